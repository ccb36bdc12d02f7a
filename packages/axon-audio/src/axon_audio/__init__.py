"""axon-audio: audio I/O, transforms and datasets (see README.md)."""

__all__: list[str] = []
