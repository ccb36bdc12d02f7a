"""axon-nn's fft/ifft/rfft/irfft, stft and istft against torch.fft, torch.stft and torch.istft:
forward values and gradients (the same random cotangent back-propagated through both), plus
float64 finite-difference gradchecks of each transform."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import axon_nn as nn  # noqa: E402
import axon_nn.functional as F  # noqa: E402
from axon_autograd import Variable, gradcheck  # noqa: E402
from axon_core import DTypeError, ShapeError  # noqa: E402
from axon_tensor import tensor  # noqa: E402

pytestmark = pytest.mark.torch
rng = np.random.default_rng(5)


def both(array):
    return Variable(tensor(array), requires_grad=True), torch.tensor(array, requires_grad=True)


def backprop(ours, theirs, cotangent):
    (ours * tensor(cotangent)).sum().backward()
    (theirs * torch.tensor(cotangent)).sum().backward()


TORCH_FFT = {"fft": torch.fft.fft, "ifft": torch.fft.ifft, "rfft": torch.fft.rfft, "irfft": torch.fft.irfft}


@pytest.mark.parametrize("kind", ["fft", "ifft", "rfft", "irfft"])
@pytest.mark.parametrize("n", [None, 5, 12])
@pytest.mark.parametrize("dim", [-1, 0, 1])
@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_fft_family_matches_torch(kind, n, dim, norm):
    real_input = kind == "rfft"
    shape = (4, 7, 6) if real_input else (4, 7, 6, 2)
    ours, x = both(rng.standard_normal(shape))
    out = getattr(F, kind)(ours, n=n, dim=dim, norm=norm)
    theirs = TORCH_FFT[kind](x if real_input else torch.view_as_complex(x), n=n, dim=dim, norm=norm)
    theirs_real = theirs if kind == "irfft" else torch.view_as_real(theirs)
    np.testing.assert_allclose(out.data.numpy(), theirs_real.detach().numpy(), rtol=1e-10, atol=1e-12)
    backprop(out, theirs_real, rng.standard_normal(tuple(out.shape)))
    np.testing.assert_allclose(ours.grad.numpy(), x.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["fft", "ifft", "rfft", "irfft"])
def test_fft_family_gradcheck(kind):
    shape = (3, 5) if kind == "rfft" else (3, 5, 2)
    x = Variable(tensor(rng.standard_normal(shape)), requires_grad=True)
    for n in (None, 4, 8):
        assert gradcheck(lambda v: getattr(F, kind)(v, n=n, dim=0, norm="ortho"), (x,))


def test_fft_float32_non_contiguous_and_module():
    base = rng.standard_normal((6, 2, 5)).astype(np.float32)
    ours = Variable(tensor(base)).permute(2, 0, 1)  # [5, 6, 2] pairs, non-contiguous
    expected = torch.fft.fft(torch.view_as_complex(torch.tensor(base).permute(2, 0, 1).contiguous()), dim=0)
    got = nn.FFT1d("fft", dim=0)(ours)
    assert got.dtype.name == "float32"
    np.testing.assert_allclose(got.data.numpy(), torch.view_as_real(expected).numpy(), rtol=1e-4, atol=1e-5)
    z = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    np.testing.assert_allclose(F.complex_from_pairs(F.pairs_from_complex(tensor(z))).numpy(), z)


def test_fft_bad_input():
    with pytest.raises(ShapeError, match="pairs"):
        F.fft(tensor(rng.standard_normal((3, 4))))
    with pytest.raises(DTypeError, match="pairs_from_complex"):
        F.fft(tensor(np.ones(3, dtype=np.complex128)))
    with pytest.raises(DTypeError, match="floating"):
        F.rfft(tensor(np.arange(4)))
    with pytest.raises(ShapeError, match="n=0"):
        F.rfft(tensor(np.zeros((2, 0))))
    with pytest.raises(ShapeError, match="0-d"):
        F.rfft(tensor(np.float64(1.0)))


def test_complex_abs_matches_torch_including_zero():
    data = rng.standard_normal((4, 3, 2))
    data[0, 0] = 0.0
    ours, x = both(data)
    out = F.complex_abs(ours)
    theirs = torch.view_as_complex(x).abs()
    np.testing.assert_allclose(out.data.numpy(), theirs.detach().numpy(), rtol=1e-12)
    backprop(out, theirs, rng.standard_normal((4, 3)))
    np.testing.assert_allclose(ours.grad.numpy(), x.grad.numpy(), rtol=1e-12)
    assert np.all(ours.grad.numpy()[0, 0] == 0)


STFT_CASES = [
    # n_fft, hop, win_length, window, center, pad_mode, normalized, onesided, batched
    (16, 4, None, "hann", True, "reflect", False, True, True),
    (16, 5, 12, "hann", True, "constant", True, True, False),
    (15, 4, None, "hamming", True, "reflect", False, False, True),
    (8, 8, None, None, False, "reflect", False, True, True),
    (10, 3, 7, "hann", False, "reflect", True, False, False),
]


def make_window(kind, length):
    if kind is None:
        return None, None
    w = (torch.hann_window if kind == "hann" else torch.hamming_window)(length, dtype=torch.float64)
    return tensor(w.numpy()), w


@pytest.mark.parametrize("n_fft, hop, win_length, window, center, pad_mode, normalized, onesided, batched", STFT_CASES)
@pytest.mark.parametrize("output", ["pairs", "magnitude"])
def test_stft_matches_torch(n_fft, hop, win_length, window, center, pad_mode, normalized, onesided, batched, output):
    signal = rng.standard_normal((3, 57) if batched else (57,))
    ours, x = both(signal)
    ours_w, theirs_w = make_window(window, win_length or n_fft)
    out = F.stft(ours, n_fft, hop, win_length, ours_w, center, pad_mode, normalized, onesided, output=output)
    spec = torch.stft(x, n_fft, hop, win_length, theirs_w, center, pad_mode, normalized, onesided, return_complex=True)
    theirs = spec.abs() if output == "magnitude" else torch.view_as_real(spec)
    assert tuple(out.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(out.data.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    backprop(out, theirs, rng.standard_normal(tuple(out.shape)))
    np.testing.assert_allclose(ours.grad.numpy(), x.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_stft_complex_output_and_window_gradient():
    signal = rng.standard_normal(40)
    window = rng.uniform(0.5, 1.0, 16)
    spec = F.stft(tensor(signal), 16, 4, window=tensor(window), output="complex")
    expected = torch.stft(torch.tensor(signal), 16, 4, window=torch.tensor(window), return_complex=True)
    assert spec.dtype.is_complex
    np.testing.assert_allclose(spec.numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)
    ours_w, theirs_w = both(window)
    out = F.stft(tensor(signal), 16, 4, window=ours_w)
    theirs = torch.view_as_real(torch.stft(torch.tensor(signal), 16, 4, window=theirs_w, return_complex=True))
    backprop(out, theirs, rng.standard_normal(tuple(out.shape)))
    np.testing.assert_allclose(ours_w.grad.numpy(), theirs_w.grad.numpy(), rtol=1e-10)


def test_stft_istft_gradcheck():
    x = Variable(tensor(rng.standard_normal(20)), requires_grad=True)
    w = tensor(np.hanning(8) + 0.1)
    assert gradcheck(lambda v: F.stft(v, 8, 3, window=w, normalized=True), (x,))
    spec = Variable(tensor(rng.standard_normal((5, 7, 2))), requires_grad=True)
    assert gradcheck(lambda s: F.istft(s, 8, 3, window=w, length=18), (spec,))


ISTFT_CASES = [
    # n_fft, hop, win_length, window, center, normalized, onesided, length, batched
    (16, 4, None, "hann", True, False, True, None, True),
    (16, 4, 12, "hann", True, True, True, 50, False),
    (16, 4, None, "hann", True, False, True, 70, True),
    (15, 5, None, "hamming", False, False, False, None, True),
    (8, 2, None, None, True, False, True, None, False),
]


@pytest.mark.parametrize("n_fft, hop, win_length, window, center, normalized, onesided, length, batched", ISTFT_CASES)
def test_istft_matches_torch_and_inverts_stft(
    n_fft, hop, win_length, window, center, normalized, onesided, length, batched
):
    signal = rng.standard_normal((2, 60) if batched else (60,))
    ours_w, theirs_w = make_window(window, win_length or n_fft)
    spec_t = torch.stft(
        torch.tensor(signal),
        n_fft,
        hop,
        win_length,
        theirs_w,
        center,
        "reflect",
        normalized,
        onesided,
        return_complex=True,
    )
    # a random spectrum (not an exact STFT) checks the overlap-add itself, not just round-tripping
    noisy = torch.view_as_real(spec_t).numpy() + 0.1 * rng.standard_normal(tuple(torch.view_as_real(spec_t).shape))
    if not onesided:
        # keep the spectrum of a real signal: torch's istft returns the real part only for those
        noisy = torch.view_as_real(
            torch.fft.fft(torch.fft.ifft(torch.view_as_complex(torch.tensor(noisy)), dim=-2).real, dim=-2)
        ).numpy()
    ours, x = both(noisy)
    out = F.istft(ours, n_fft, hop, win_length, ours_w, center, normalized, onesided, length)
    theirs = torch.istft(
        torch.view_as_complex(x), n_fft, hop, win_length, theirs_w, center, normalized, onesided, length
    )
    np.testing.assert_allclose(out.data.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    backprop(out, theirs, rng.standard_normal(tuple(out.shape)))
    np.testing.assert_allclose(ours.grad.numpy(), x.grad.numpy(), rtol=1e-9, atol=1e-11)
    exact = F.istft(
        tensor(torch.view_as_real(spec_t).numpy()), n_fft, hop, win_length, ours_w, center, normalized, onesided, length
    )
    if center and length is None:
        np.testing.assert_allclose(exact.numpy()[..., : signal.shape[-1]], signal[..., : exact.shape[-1]], atol=1e-12)


def test_istft_accepts_complex_tensor_and_modules_round_trip():
    signal = rng.standard_normal(64).astype(np.float32)
    window = tensor(torch.hann_window(16).numpy())
    stft, istft = nn.STFT(16, 4, window=window, output="complex"), nn.ISTFT(16, 4, window=window)
    np.testing.assert_allclose(istft(stft(tensor(signal)), length=64).numpy(), signal, atol=1e-5)


def test_stft_istft_bad_input():
    with pytest.raises(ShapeError, match="shorter than n_fft"):
        F.stft(tensor(np.zeros(5)), 16, center=False)
    with pytest.raises(ShapeError, match="reflect padding"):
        F.stft(tensor(np.zeros(5)), 16)
    with pytest.raises(ShapeError, match="window"):
        F.stft(tensor(np.zeros(40)), 16, window=tensor(np.ones(15)))
    with pytest.raises(ValueError, match="hop_length"):
        F.stft(tensor(np.zeros(40)), 16, hop_length=0)
    with pytest.raises(ShapeError, match=r"\[L\] or \[batch, L\]"):
        F.stft(tensor(np.zeros((2, 2, 40))), 16)
    with pytest.raises(ShapeError, match="needs 9 frequencies"):
        F.istft(tensor(np.zeros((8, 5, 2))), 16, onesided=True)
    with pytest.raises(ValueError, match="NOLA"):
        F.istft(tensor(np.zeros((9, 5, 2))), 16, 4, window=tensor(np.hanning(16)), center=False)
