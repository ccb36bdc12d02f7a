"""Transforms: resize against torch.nn.functional.interpolate (every mode, with and without antialias),
crops and flips against NumPy slicing, seeded draws resumed through the generator's state."""

from __future__ import annotations

import numpy as np
import pytest

from axon_tensor import Generator, tensor
from axon_vision import ImageShapeError
from axon_vision.transforms import (
    CenterCrop,
    RandomCrop,
    RandomHorizontalFlip,
    RandomResizedCrop,
    Resize,
    center_crop,
    resize,
)

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)

RESIZE_CASES = [
    (mode, antialias, size)
    for mode, antialias in [
        ("nearest", False),
        ("bilinear", False),
        ("bilinear", True),
        ("bicubic", False),
        ("bicubic", True),
    ]
    for size in [(16, 11), (50, 61), (8, 40)]
]


@pytest.mark.parametrize("mode,antialias,size", RESIZE_CASES)
def test_resize_matches_torch_interpolate(mode, antialias, size):
    x = RNG.random((2, 3, 37, 29))
    extra = {} if mode == "nearest" else {"align_corners": False}
    expected = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode=mode, antialias=antialias, **extra)
    # float64 on both sides: the sums differ only in order, so 1e-12 holds on any CPU.
    np.testing.assert_allclose(resize(x, size, mode, antialias), expected.numpy(), rtol=0, atol=1e-12)


def test_resize_shorter_side_and_tensor_in_tensor_out():
    x = RNG.random((3, 20, 40)).astype(np.float32)
    out = Resize(10)(tensor(x))
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(x)[None], size=(10, 20), mode="bilinear", antialias=True
    )
    np.testing.assert_allclose(out.numpy(), expected[0].numpy(), rtol=0, atol=1e-5)


def test_resize_uint8_rounds_and_clips():
    x = RNG.integers(0, 256, (1, 3, 12, 12), dtype=np.uint8)
    out = resize(x, (5, 7), "bicubic", True)
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(x.astype(np.float64)), size=(5, 7), mode="bicubic", antialias=True
    )
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.clip(np.rint(expected.numpy()), 0, 255).astype(np.uint8))


def test_center_crop_offsets():
    x = np.arange(2 * 7 * 9, dtype=np.float32).reshape(2, 7, 9)
    np.testing.assert_array_equal(CenterCrop((3, 4))(x), x[:, 2:5, 2:6])
    np.testing.assert_array_equal(center_crop(x, 7), x[:, :, 1:8])


def test_random_crop_is_a_window_and_resumes_from_generator_state():
    x = RNG.random((3, 10, 12))
    gen = Generator(5)
    crop = RandomCrop(6, padding=2, generator=gen)
    state = gen.get_state()
    first = [crop(x) for _ in range(3)]
    gen.set_state(state)
    again = [crop(x) for _ in range(3)]
    padded = np.pad(x, [(0, 0), (2, 2), (2, 2)])
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (6, 6), axis=(1, 2))
        assert np.any(np.all(windows == a[:, None, None], axis=(0, 3, 4)))


def test_random_resized_crop_params_and_output():
    x = RNG.random((3, 30, 40))
    rrc = RandomResizedCrop((8, 8), scale=(0.2, 0.9), generator=Generator(1))
    for _ in range(5):
        top, left, h, w = rrc.get_params(30, 40)
        assert 0 <= top and top + h <= 30 and 0 <= left and left + w <= 40
    gen = Generator(2)
    rrc = RandomResizedCrop((8, 8), generator=gen)
    state = gen.get_state()
    out = rrc(x)
    gen.set_state(state)
    top, left, h, w = rrc.get_params(30, 40)
    window = torch.from_numpy(x[None, :, top : top + h, left : left + w])
    expected = torch.nn.functional.interpolate(window, size=(8, 8), mode="bilinear", antialias=True)
    np.testing.assert_allclose(out, expected[0].numpy(), rtol=0, atol=1e-12)


def test_random_horizontal_flip_probability_and_result():
    x = RNG.random((2, 3, 4, 5))
    assert np.array_equal(RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    assert RandomHorizontalFlip(0.0)(x) is x
    flips = RandomHorizontalFlip(0.5, generator=Generator(0))
    flipped = sum(not np.array_equal(flips(x), x) for _ in range(400))
    assert 150 < flipped < 250


def test_bad_input_errors():
    with pytest.raises(ImageShapeError, match="resize"):
        resize(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match="mode"):
        Resize(4, mode="area")
    with pytest.raises(ImageShapeError, match="larger than the image"):
        center_crop(np.zeros((1, 3, 3)), 4)
    with pytest.raises(ImageShapeError, match="larger than the image"):
        RandomCrop(8)(np.zeros((1, 3, 3)))
