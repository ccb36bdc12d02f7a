"""``ReduceOp``: torch.distributed's reduction names, and which MPI op each becomes for each dtype."""

from __future__ import annotations

import enum

__all__ = ["ReduceOp"]


class ReduceOp(enum.Enum):
    """How a reducing collective combines the ranks' values (torch.distributed.ReduceOp's members).

    ``AVG`` is the sum divided by the group's size (floating and complex dtypes only). On ``bool``
    tensors SUM/MAX/BOR are a logical or, PRODUCT/MIN/BAND a logical and, BXOR a logical xor.
    """

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"

    def __repr__(self) -> str:
        return f"ReduceOp.{self.name}"


# The code of each op in a collective's header (the ranks compare them).
OP_CODES = {op: code for code, op in enumerate(ReduceOp)}

# MPI op name for (ReduceOp, dtype kind); kinds: "f" float, "c" complex, "i" signed/unsigned int, "b" bool.
# AVG reduces with SUM and divides afterwards. A missing entry is a TypeError naming both.
MPI_OPS: dict[tuple[ReduceOp, str], str] = {
    **{(ReduceOp.SUM, k): "SUM" for k in "fci"},
    **{(ReduceOp.AVG, k): "SUM" for k in "fc"},
    **{(ReduceOp.PRODUCT, k): "PROD" for k in "fci"},
    **{(ReduceOp.MIN, k): "MIN" for k in "fi"},
    **{(ReduceOp.MAX, k): "MAX" for k in "fi"},
    (ReduceOp.BAND, "i"): "BAND",
    (ReduceOp.BOR, "i"): "BOR",
    (ReduceOp.BXOR, "i"): "BXOR",
    (ReduceOp.SUM, "b"): "LOR",
    (ReduceOp.MAX, "b"): "LOR",
    (ReduceOp.BOR, "b"): "LOR",
    (ReduceOp.PRODUCT, "b"): "LAND",
    (ReduceOp.MIN, "b"): "LAND",
    (ReduceOp.BAND, "b"): "LAND",
    (ReduceOp.BXOR, "b"): "LXOR",
}


def as_reduce_op(op: object) -> ReduceOp:
    """``op`` as a ReduceOp (a member, or its name such as ``"sum"`` / ``"MAX"``)."""
    if isinstance(op, ReduceOp):
        return op
    if isinstance(op, str):
        try:
            return ReduceOp[op.upper()]
        except KeyError:
            pass
    raise ValueError(f"unknown reduce op {op!r}; expected one of {[m.name for m in ReduceOp]}")
