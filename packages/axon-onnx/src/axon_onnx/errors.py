"""Typed errors of axon-onnx: every failure names the file, node or operator it is about."""

from __future__ import annotations


class OnnxError(Exception):
    """Base class of every axon-onnx error."""


class OnnxFormatError(OnnxError, ValueError):
    """The bytes are not a well-formed ONNX model (parse failure, dangling edge, bad initializer)."""


class ExternalDataError(OnnxError, ValueError):
    """An initializer's external data file is missing, escapes the model folder or is too short."""


class UnsupportedOperatorError(OnnxError, ValueError):
    """The graph holds nodes axon cannot run, found at load time; ``nodes`` lists
    ``(node name, op type, domain, opset, reason)`` for every one of them."""

    def __init__(self, nodes: list[tuple[str, str, str, int, str]]) -> None:
        self.nodes = nodes
        lines = "\n".join(
            f"  {name or '<unnamed>'}: {op} (domain {domain or 'ai.onnx'!r}, opset {opset}): {reason}"
            for name, op, domain, opset, reason in nodes
        )
        super().__init__(f"{len(nodes)} unsupported node(s):\n{lines}")


class OnnxRuntimeError(OnnxError, RuntimeError):
    """A node failed while running (bad feed shape or dtype, an input value the op refuses)."""
