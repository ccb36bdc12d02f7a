"""axon-cli: the `axon` command (see README.md)."""

__all__: list[str] = []
