"""Colour transforms against torchvision's formulas written here with torch ops, hue against Python's
colorsys per pixel, ColorJitter's draws replayed from a saved generator state."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

from axon_tensor import Generator, tensor
from axon_vision import ImageDtypeError, ImageShapeError
from axon_vision.transforms import (
    ColorJitter,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    hsv_to_rgb,
    rgb_to_grayscale,
    rgb_to_hsv,
)

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(1)


def torch_gray(img):
    r, g, b = img.unbind(-3)
    luma = 0.2989 * r + 0.587 * g + 0.114 * b
    return luma.to(img.dtype).unsqueeze(-3)


def torch_blend(a, b, ratio):
    bound = 1.0 if a.is_floating_point() else 255.0
    return (ratio * a + (1.0 - ratio) * b).clamp(0, bound).to(a.dtype)


def torch_brightness(img, f):
    return torch_blend(img, torch.zeros_like(img), f)


def torch_contrast(img, f):
    dtype = img.dtype if img.is_floating_point() else torch.float32
    mean = torch.mean(torch_gray(img).to(dtype), dim=(-3, -2, -1), keepdim=True)
    return torch_blend(img, mean, f)


def torch_saturation(img, f):
    return torch_blend(img, torch_gray(img), f)


def images():
    return [
        RNG.random((3, 9, 7)),
        RNG.random((2, 3, 5, 6)).astype(np.float32),
        RNG.integers(0, 256, (3, 8, 8), np.uint8),
    ]


@pytest.mark.parametrize(
    "ours,reference",
    [(adjust_brightness, torch_brightness), (adjust_contrast, torch_contrast), (adjust_saturation, torch_saturation)],
)
@pytest.mark.parametrize("factor", [0.0, 0.4, 1.0, 1.7])
def test_blend_adjustments_match_torch_formulas(ours, reference, factor):
    for image in images():
        expected = reference(torch.from_numpy(image), factor).numpy()
        out = ours(image, factor)
        assert out.dtype == image.dtype
        if image.dtype == np.uint8:
            np.testing.assert_array_equal(out, expected)
        else:
            np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6 if image.dtype == np.float32 else 1e-14)


def test_grayscale_weights_and_tensor_round_trip():
    x = RNG.random((3, 4, 5))
    np.testing.assert_allclose(
        rgb_to_grayscale(tensor(x), 3).numpy(), np.repeat(torch_gray(torch.from_numpy(x)).numpy(), 3, 0)
    )


def colorsys_hue(image, factor):
    out = np.empty_like(image)
    for i in range(image.shape[1]):
        for j in range(image.shape[2]):
            h, s, v = colorsys.rgb_to_hsv(*image[:, i, j])
            out[:, i, j] = colorsys.hsv_to_rgb((h + factor) % 1.0, s, v)
    return out


@pytest.mark.parametrize("factor", [-0.5, -0.23, 0.0, 0.1, 0.37])
def test_hue_matches_colorsys(factor):
    x = RNG.random((3, 6, 7))
    x[:, 0, 0] = 0.5  # a grey pixel: hue undefined, must stay grey
    x[:, 0, 1] = [1.0, 0.2, 0.2]
    np.testing.assert_allclose(adjust_hue(x, factor), colorsys_hue(x, factor), rtol=0, atol=1e-12)


def test_hsv_round_trip_and_uint8_hue_conversion():
    x = RNG.random((2, 3, 5, 5))
    np.testing.assert_allclose(hsv_to_rgb(rgb_to_hsv(x)), x, rtol=0, atol=1e-12)
    u = RNG.integers(0, 256, (3, 6, 6), np.uint8)
    expected = (colorsys_hue(u.astype(np.float32) / np.float32(255), 0.2) * (256 - 1e-3)).astype(np.uint8)
    # float32 arithmetic on our side, float64 in colorsys: a truncation may differ by one level.
    assert np.abs(adjust_hue(u, 0.2).astype(int) - expected.astype(int)).max() <= 1
    assert (adjust_hue(u, 0.2) == expected).mean() > 0.97


def test_color_jitter_replays_torchvision_rule_and_resumes():
    gen = Generator(3)
    jitter = ColorJitter(0.4, (0.5, 1.5), 0.3, 0.1, generator=gen)
    x = RNG.random((3, 8, 8))
    state = gen.get_state()
    outs = [jitter(x) for _ in range(4)]
    replay = np.random.Generator(np.random.PCG64(3))
    refs = {0: torch_brightness, 1: torch_contrast, 2: torch_saturation}
    for out in outs:
        order = replay.permutation(4)
        factors = [
            replay.uniform(0.6, 1.4),
            replay.uniform(0.5, 1.5),
            replay.uniform(0.7, 1.3),
            replay.uniform(-0.1, 0.1),
        ]
        expected = x
        for i in order:
            if i == 3:
                expected = colorsys_hue(expected, factors[3])
            else:
                expected = refs[i](torch.from_numpy(expected), factors[i]).numpy()
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)
    gen.set_state(state)
    for out in outs:
        np.testing.assert_array_equal(jitter(x), out)


def test_color_errors():
    with pytest.raises(ValueError, match="hue"):
        ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="brightness"):
        ColorJitter(brightness=-1)
    with pytest.raises(ImageShapeError, match="channels"):
        adjust_saturation(np.zeros((4, 3, 3)), 0.5)
    with pytest.raises(ImageDtypeError, match="int16"):
        adjust_brightness(np.zeros((3, 3, 3), np.int16), 0.5)
