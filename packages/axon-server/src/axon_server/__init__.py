"""axon-server: an OpenAI-compatible server over axon models (see README.md)."""

__all__: list[str] = []
