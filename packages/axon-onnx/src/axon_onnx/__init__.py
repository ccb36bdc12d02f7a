"""axon-onnx: ONNX import and export (see README.md)."""

__all__: list[str] = []
