"""Normalize and ToTensor against NumPy, RandomErasing's window rule replayed, and every RandAugment op:
geometric ones against torch's affine_grid + grid_sample with a matrix composed here, tone ones against
Pillow's ImageOps or torchvision's formula written with torch ops."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageOps

from axon_tensor import Generator, Tensor, tensor
from axon_vision import ImageDtypeError, ImageShapeError
from axon_vision.transforms import (
    Normalize,
    RandAugment,
    RandomErasing,
    ToTensor,
    adjust_sharpness,
    affine,
    apply_op,
    augmentation_space,
    autocontrast,
    equalize,
    posterize,
    rotate,
    solarize,
)

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(2)


def test_normalize_batch_and_tensor():
    x = RNG.random((2, 3, 4, 5)).astype(np.float32)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    expected = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(Normalize(mean, std)(x), expected, rtol=1e-6)
    np.testing.assert_allclose(Normalize(mean, std)(tensor(x[0])).numpy(), expected[0], rtol=1e-6)
    with pytest.raises(ImageDtypeError):
        Normalize(mean, std)(x.astype(np.uint8))
    with pytest.raises(ImageShapeError):
        Normalize([0.5, 0.5], [1, 1])(x)


def test_to_tensor_pil_and_arrays():
    hwc = RNG.integers(0, 256, (5, 6, 3), np.uint8)
    out = ToTensor()(Image.fromarray(hwc))
    assert isinstance(out, Tensor) and out.dtype.np == np.float32
    np.testing.assert_allclose(out.numpy(), hwc.transpose(2, 0, 1).astype(np.float32) / 255, rtol=0, atol=0)
    gray = ToTensor()(Image.fromarray(hwc[..., 0]))
    np.testing.assert_allclose(gray.numpy(), hwc[None, ..., 0] / np.float32(255))
    floats = RNG.random((4, 4, 2))
    np.testing.assert_array_equal(ToTensor()(floats).numpy(), floats.transpose(2, 0, 1))
    with pytest.raises(ImageShapeError):
        ToTensor()(np.zeros((2, 2, 2, 2)))


def test_random_erasing_replays_window_rule_and_resumes():
    x = RNG.random((3, 20, 16))
    gen = Generator(11)
    erasing = RandomErasing(p=0.7, value=[1.0, 2.0, 3.0], generator=gen)
    state = gen.get_state()
    outs = [erasing(x) for _ in range(6)]
    replay = np.random.Generator(np.random.PCG64(11))
    for out in outs:
        expected = x.copy()
        if replay.random() < 0.7:
            for _ in range(10):
                target = 320 * replay.uniform(0.02, 0.33)
                aspect = math.exp(replay.uniform(math.log(0.3), math.log(3.3)))
                h, w = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
                if h < 20 and w < 16:
                    top, left = replay.integers(0, 20 - h + 1), replay.integers(0, 16 - w + 1)
                    expected[:, top : top + h, left : left + w] = np.array([1.0, 2.0, 3.0])[:, None, None]
                    break
        np.testing.assert_array_equal(out, expected)
    assert sum(not np.array_equal(o, x) for o in outs) >= 2
    gen.set_state(state)
    for out in outs:
        np.testing.assert_array_equal(erasing(x), out)


def torch_warp(image, angle, translate, shear, center, mode="nearest", fill=None):
    """Forward matrix C T R Sh C⁻¹ composed and inverted here, sampled by torch's grid_sample (nearest)."""
    c, h, w = image.shape
    cx, cy = (w * 0.5, h * 0.5) if center is None else center
    rot, sx, sy = map(math.radians, (angle, *shear))
    r = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
    shy = np.array([[1.0, 0.0], [-math.tan(sy), 1.0]])
    shx = np.array([[1.0, -math.tan(sx)], [0.0, 1.0]])
    forward = np.eye(3)
    forward[:2, :2] = r @ shy @ shx
    shift = lambda dx, dy: np.array([[1.0, 0, dx], [0, 1.0, dy], [0, 0, 1.0]])  # noqa: E731
    # Pixel coordinates with the origin at the top-left corner of the image, pixel centres at +0.5.
    forward = shift(cx + translate[0], cy + translate[1]) @ forward @ shift(-cx, -cy)
    inverse = np.linalg.inv(forward)
    # Normalised coordinates u = 2 x / w - 1 for torch's grid.
    norm = np.array([[2.0 / w, 0, -1.0], [0, 2.0 / h, -1.0], [0, 0, 1.0]])
    theta = (norm @ inverse @ np.linalg.inv(norm))[:2]
    grid = torch.nn.functional.affine_grid(torch.from_numpy(theta)[None], (1, c, h, w), align_corners=False)
    source = torch.from_numpy(image.astype(np.float64))[None]
    if fill is not None:  # torchvision's rule: a ones channel sampled alongside, the fill blended by it
        source = torch.cat([source, torch.ones_like(source[:, :1])], dim=1)
    out = torch.nn.functional.grid_sample(source, grid, mode=mode, padding_mode="zeros", align_corners=False)[0]
    if fill is not None:
        out, mask = out[:-1], out[-1:]
        out = out * mask + (1.0 - mask) * fill
    return out.numpy()


@pytest.mark.parametrize(
    "angle,translate,shear,center",
    [
        (0, (3, -2), (0, 0), None),
        (17.0, (0, 0), (0, 0), None),
        (-33.0, (1, 2), (12.0, -7.0), None),
        (0, (0, 0), (16.7, 0), (0, 0)),
        (0, (0, 0), (0, -11.3), (0, 0)),
        (25.0, (0, 0), (5.0, 5.0), (3, 7)),
    ],
)
def test_affine_matches_grid_sample(angle, translate, shear, center):
    x = RNG.integers(1, 256, (3, 13, 10), np.uint8)
    # A positive angle in the standard rotation matrix turns clockwise on screen (y points down),
    # which is torchvision's affine convention.
    out = affine(x, angle=angle, translate=translate, shear=shear, center=center)
    np.testing.assert_array_equal(out, torch_warp(x, angle, translate, shear, center).astype(np.uint8))
    f = x.astype(np.float64) / 255
    for fill in (None, 0.3):
        bilinear = affine(
            f, angle=angle, translate=translate, shear=shear, center=center, interpolation="bilinear", fill=fill
        )
        expected = torch_warp(f, angle, translate, shear, center, "bilinear", fill)
        np.testing.assert_allclose(bilinear, expected, rtol=0, atol=1e-12)
    # uint8 bilinear is computed in float32 and rounded: at most one level from the float64 reference.
    ours = affine(x, angle=angle, translate=translate, shear=shear, center=center, interpolation="bilinear")
    reference = np.rint(torch_warp(x, angle, translate, shear, center, "bilinear"))
    assert ours.dtype == np.uint8 and np.abs(ours.astype(int) - reference).max() <= 1


def test_rotate_quarter_turn_is_rot90():
    for size in (5, 6):
        x = RNG.integers(0, 256, (2, size, size), np.uint8)
        np.testing.assert_array_equal(rotate(x, 90.0), np.rot90(x, 1, axes=(1, 2)))


def pil_op(image, fn):
    return np.asarray(fn(Image.fromarray(image.transpose(1, 2, 0)))).transpose(2, 0, 1)


def test_posterize_solarize_equalize_match_pillow():
    x = RNG.integers(0, 256, (3, 17, 19), np.uint8)
    x[1] = np.clip(x[1] // 3 + 40, 0, 255)  # a narrow histogram for equalize
    for bits in (1, 4, 6, 8):
        np.testing.assert_array_equal(posterize(x, bits), pil_op(x, lambda im, b=bits: ImageOps.posterize(im, b)))
    for threshold in (0, 77, 128, 255):
        np.testing.assert_array_equal(
            solarize(x, threshold), pil_op(x, lambda im, t=threshold: ImageOps.solarize(im, t))
        )
    np.testing.assert_array_equal(equalize(x), pil_op(x, ImageOps.equalize))
    with pytest.raises(ImageDtypeError):
        equalize(x.astype(np.float32))


def torch_autocontrast(img):
    bound = 1.0 if img.is_floating_point() else 255.0
    dtype = img.dtype if img.is_floating_point() else torch.float32
    low = img.amin(dim=(-2, -1), keepdim=True).to(dtype)
    high = img.amax(dim=(-2, -1), keepdim=True).to(dtype)
    scale = bound / (high - low)
    bad = ~torch.isfinite(scale)
    low[bad], scale[bad] = 0, 1
    return ((img - low) * scale).clamp(0, bound).to(img.dtype)


def torch_sharpness(img, factor):
    dtype = img.dtype if img.is_floating_point() else torch.float32
    kernel = torch.ones((3, 3), dtype=dtype)
    kernel[1, 1] = 5.0
    kernel = (kernel / kernel.sum()).expand(img.shape[-3], 1, 3, 3)
    blurred = torch.nn.functional.conv2d(img.to(dtype)[None], kernel, groups=img.shape[-3])[0]
    if not img.is_floating_point():
        blurred = blurred.round()
    degenerate = img.clone()
    degenerate[..., 1:-1, 1:-1] = blurred.to(img.dtype)
    bound = 1.0 if img.is_floating_point() else 255.0
    return (factor * img + (1.0 - factor) * degenerate).clamp(0, bound).to(img.dtype)


def test_autocontrast_and_sharpness_match_torch_formulas():
    u = RNG.integers(30, 200, (3, 9, 11), np.uint8)
    u[2] = 90  # a flat channel is left as it is
    f = RNG.random((3, 9, 11)) * 0.5 + 0.2
    for x in (u, f):
        np.testing.assert_array_equal(autocontrast(x), torch_autocontrast(torch.from_numpy(x)).numpy())
        for factor in (0.0, 0.5, 1.9):
            ours, ref = adjust_sharpness(x, factor), torch_sharpness(torch.from_numpy(x), factor).numpy()
            if x.dtype == np.uint8:
                np.testing.assert_array_equal(ours, ref)
            else:
                np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-14)


def test_augmentation_space_matches_torchvision_values():
    space = augmentation_space(31, 32, 20)
    np.testing.assert_array_equal(space["Posterize"], (8 - (torch.arange(31) / ((31 - 1) / 4)).round().int()).numpy())
    np.testing.assert_allclose(
        space["TranslateX"], torch.linspace(0.0, 150.0 / 331.0 * 20, 31).double().numpy(), rtol=1e-6
    )
    np.testing.assert_allclose(space["Solarize"], torch.linspace(255.0, 0.0, 31).double().numpy(), rtol=1e-6)
    assert len(space) == 14


def test_rand_augment_draws_resume_and_compose_the_ops():
    x = RNG.integers(0, 256, (3, 16, 16), np.uint8)
    gen = Generator(4)
    aug = RandAugment(num_ops=2, magnitude=9, generator=gen)
    state = gen.get_state()
    params = [aug.get_params(16, 16) for _ in range(200)]
    names = {name for call in params for name, _ in call}
    assert len(names) == 14
    signs = {np.sign(m) for call in params for name, m in call if name == "Rotate"}
    assert signs == {-1.0, 1.0}
    gen.set_state(state)
    assert [aug.get_params(16, 16) for _ in range(200)] == params
    gen.set_state(state)
    for call in params[:20]:
        expected = x
        for name, magnitude in call:
            expected = apply_op(expected, name, magnitude)
        np.testing.assert_array_equal(aug(x), expected)
    with pytest.raises(ImageDtypeError):
        aug(x.astype(np.float32))
