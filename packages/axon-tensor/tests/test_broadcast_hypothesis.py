"""Property tests: broadcasting of binary ops equals NumPy's; incompatible shapes raise ShapeError."""

from __future__ import annotations

import operator

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import axon_tensor as at
from axon_core import ShapeError

OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "maximum": np.maximum}
AXON_OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "maximum": at.maximum}


@settings(max_examples=60, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
    op=st.sampled_from(sorted(OPS)),
    data=st.data(),
)
def test_broadcast_matches_numpy(shapes, op: str, data) -> None:
    left_shape, right_shape = shapes.input_shapes
    left = data.draw(hnp.arrays(np.float64, left_shape, elements=st.floats(-1e3, 1e3)))
    right = data.draw(hnp.arrays(np.float64, right_shape, elements=st.floats(-1e3, 1e3)))
    out = AXON_OPS[op](at.tensor(left), at.tensor(right))
    expected = OPS[op](left, right)
    assert tuple(out.shape) == shapes.result_shape
    np.testing.assert_array_equal(out.numpy(), expected)


@settings(max_examples=40, deadline=None)
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=2, max_side=5),
    axis=st.integers(0, 3),
    extra=st.integers(1, 3),
)
def test_incompatible_shapes_raise_shape_error(shape, axis: int, extra: int) -> None:
    axis = axis % len(shape)
    other = list(shape)
    other[axis] = shape[axis] + extra  # both sizes > 1 and different: never broadcastable
    with pytest.raises(ShapeError) as info:
        at.ones(*shape) + at.ones(*other)
    assert str(tuple(shape)) in str(info.value) and str(tuple(other)) in str(info.value)


@settings(max_examples=40, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3))
def test_where_broadcasts_three_ways(shapes) -> None:
    cond_shape, a_shape, b_shape = shapes.input_shapes
    rng = np.random.default_rng(0)
    cond = rng.random(cond_shape) > 0.5
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    out = at.where(at.tensor(cond), at.tensor(a), at.tensor(b))
    np.testing.assert_array_equal(out.numpy(), np.where(cond, a, b))
