"""Box ops and detection losses against NumPy references written here (pair loops, greedy NMS by
repeated arg-max, roi_align as torchvision's CPU kernel's per-sample bilinear loop); gradients against
torch autograd of the same formulas (losses) or finite differences (roi_align)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from axon_autograd import Variable
from axon_tensor import tensor
from axon_vision import BoxFormatError
from axon_vision.ops import (
    batched_nms,
    box_iou,
    complete_box_iou_loss,
    distance_box_iou_loss,
    generalized_box_iou,
    generalized_box_iou_loss,
    nms,
    roi_align,
    sigmoid_focal_loss,
)

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(5)


def random_boxes(n, size=20.0):
    xy = RNG.random((n, 2)) * size
    wh = RNG.random((n, 2)) * size * 0.6 + 0.5
    return np.concatenate([xy, xy + wh], axis=1)


def np_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter, union


def np_enclosing(a, b):
    return max(a[2], b[2]) - min(a[0], b[0]), max(a[3], b[3]) - min(a[1], b[1])


def test_box_iou_and_giou_pairwise():
    a, b = random_boxes(7), random_boxes(5)
    iou, giou = np.zeros((7, 5)), np.zeros((7, 5))
    for i in range(7):
        for j in range(5):
            inter, union = np_iou(a[i], b[j])
            cw, ch = np_enclosing(a[i], b[j])
            iou[i, j] = inter / union
            giou[i, j] = inter / union - (cw * ch - union) / (cw * ch)
    np.testing.assert_allclose(box_iou(tensor(a), tensor(b)).numpy(), iou, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(generalized_box_iou(a, b).numpy(), giou, rtol=1e-12, atol=1e-15)
    with pytest.raises(BoxFormatError):
        box_iou(np.zeros((3, 3)), b)


def np_losses(a, b, eps=1e-7):
    inter, union = np_iou(a, b)
    iou = inter / (union + eps)
    cw, ch = np_enclosing(a, b)
    giou = 1 - (iou - (cw * ch - union) / (cw * ch + eps))
    d2 = ((a[0] + a[2]) / 2 - (b[0] + b[2]) / 2) ** 2 + ((a[1] + a[3]) / 2 - (b[1] + b[3]) / 2) ** 2
    diou = 1 - iou + d2 / (cw**2 + ch**2 + eps)
    v = 4 / math.pi**2 * (math.atan((b[2] - b[0]) / (b[3] - b[1])) - math.atan((a[2] - a[0]) / (a[3] - a[1]))) ** 2
    ciou = diou + v / (1 - iou + v + eps) * v
    return giou, diou, ciou


def torch_losses(a, b, eps=1e-7):
    x1, y1, x2, y2 = a.unbind(-1)
    x1g, y1g, x2g, y2g = b.unbind(-1)
    inter = (torch.min(x2, x2g) - torch.max(x1, x1g)).clamp(min=0) * (torch.min(y2, y2g) - torch.max(y1, y1g)).clamp(
        min=0
    )
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    iou = inter / (union + eps)
    cw, ch = torch.max(x2, x2g) - torch.min(x1, x1g), torch.max(y2, y2g) - torch.min(y1, y1g)
    giou = 1 - (iou - (cw * ch - union) / (cw * ch + eps))
    d2 = ((x1 + x2) / 2 - (x1g + x2g) / 2) ** 2 + ((y1 + y2) / 2 - (y1g + y2g) / 2) ** 2
    diou = 1 - iou + d2 / (cw**2 + ch**2 + eps)
    v = 4 / math.pi**2 * (torch.atan((x2g - x1g) / (y2g - y1g)) - torch.atan((x2 - x1) / (y2 - y1))) ** 2
    with torch.no_grad():
        alpha = v / (1 - iou + v + eps)
    return giou, diou, diou + alpha * v


LOSSES = [generalized_box_iou_loss, distance_box_iou_loss, complete_box_iou_loss]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_iou_losses_values_and_gradients(index):
    a, b = random_boxes(9), random_boxes(9)
    b[0] = a[0]  # identical boxes: loss 0
    b[1] = a[1] + 40.0  # disjoint boxes: IoU 0
    loss_fn = LOSSES[index]
    expected = np.array([np_losses(a[i], b[i])[index] for i in range(9)])
    np.testing.assert_allclose(loss_fn(a, b).numpy(), expected, rtol=1e-10, atol=1e-12)
    va, vb = Variable(tensor(a), requires_grad=True), Variable(tensor(b), requires_grad=True)
    out = loss_fn(va, vb, reduction="sum")
    out.backward()
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch_losses(ta, tb)[index].sum().backward()
    np.testing.assert_allclose(va.grad.numpy(), ta.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(vb.grad.numpy(), tb.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(float(loss_fn(a, b, reduction="mean").numpy()), expected.mean(), rtol=1e-12)
    with pytest.raises(BoxFormatError):
        loss_fn(a, b[:3])


def test_sigmoid_focal_loss_values_and_gradient():
    x = RNG.standard_normal((4, 6)) * 3
    t = (RNG.random((4, 6)) > 0.7).astype(np.float64)
    p = 1 / (1 + np.exp(-x))
    ce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    p_t = p * t + (1 - p) * (1 - t)
    for alpha, gamma in ((0.25, 2.0), (-1.0, 1.5), (0.5, 0.0)):
        expected = ce * (1 - p_t) ** gamma * ((alpha * t + (1 - alpha) * (1 - t)) if alpha >= 0 else 1.0)
        np.testing.assert_allclose(sigmoid_focal_loss(tensor(x), tensor(t), alpha, gamma).numpy(), expected, rtol=1e-10)
    vx = Variable(tensor(x), requires_grad=True)
    sigmoid_focal_loss(vx, tensor(t), reduction="mean").backward()
    tx = torch.tensor(x, requires_grad=True)
    tp = torch.sigmoid(tx)
    tt = torch.tensor(t)
    tce = torch.nn.functional.binary_cross_entropy_with_logits(tx, tt, reduction="none")
    tpt = tp * tt + (1 - tp) * (1 - tt)
    ((0.25 * tt + 0.75 * (1 - tt)) * tce * (1 - tpt) ** 2).mean().backward()
    np.testing.assert_allclose(vx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-14)


def np_nms(boxes, scores, threshold):
    """Greedy NMS by repeated arg-max over the boxes still alive."""
    alive = list(range(len(boxes)))
    keep = []
    while alive:
        best = max(alive, key=lambda i: (scores[i], -i))
        keep.append(best)
        alive = [
            i
            for i in alive
            if i != best and np_iou(boxes[i], boxes[best])[0] / np_iou(boxes[i], boxes[best])[1] <= threshold
        ]
    return keep


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.9])
def test_nms_and_batched_nms(threshold):
    boxes, scores = random_boxes(40, 30.0), RNG.random(40)
    assert nms(tensor(boxes), tensor(scores), threshold).numpy().tolist() == np_nms(boxes, scores, threshold)
    idxs = RNG.integers(0, 3, 40)
    kept = []
    for c in range(3):
        members = np.nonzero(idxs == c)[0]
        kept += [members[i] for i in np_nms(boxes[members], scores[members], threshold)]
    expected = sorted(kept, key=lambda i: -scores[i])
    assert batched_nms(boxes, scores, idxs, threshold).numpy().tolist() == expected
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0), 0.5).numpy().shape == (0,)


def np_bilinear(image, y, x):
    """torchvision's ``bilinear_interpolate`` (roi_align_kernel.cpp) for one sample of ``[C, H, W]``."""
    _, h, w = image.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return np.zeros(image.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= h - 1:
        y_high = y_low = h - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= w - 1:
        x_high = x_low = w - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    return (
        hy * hx * image[:, y_low, x_low]
        + hy * lx * image[:, y_low, x_high]
        + ly * hx * image[:, y_high, x_low]
        + ly * lx * image[:, y_high, x_high]
    )


def np_roi_align(features, rois, bins, scale, ratio, aligned):
    out = np.zeros((len(rois), features.shape[1], *bins))
    offset = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        sx, sy, ex, ey = x1 * scale - offset, y1 * scale - offset, x2 * scale - offset, y2 * scale - offset
        rw, rh = ex - sx, ey - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / bins[0], rw / bins[1]
        gh = ratio if ratio > 0 else math.ceil(rh / bins[0])
        gw = ratio if ratio > 0 else math.ceil(rw / bins[1])
        count = max(gh * gw, 1)
        for ph in range(bins[0]):
            for pw in range(bins[1]):
                total = np.zeros(features.shape[1])
                for iy in range(gh):
                    y = sy + ph * bh + (iy + 0.5) * bh / gh
                    for ix in range(gw):
                        x = sx + pw * bw + (ix + 0.5) * bw / gw
                        total += np_bilinear(features[int(b)], y, x)
                out[k, :, ph, pw] = total / count
    return out


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("ratio,scale,bins", [(-1, 1.0, (3, 3)), (2, 0.5, (2, 4)), (0, 0.25, (5, 2))])
def test_roi_align_matches_kernel_loop(aligned, ratio, scale, bins):
    features = RNG.standard_normal((2, 3, 9, 11))
    boxes = random_boxes(6, 40.0)
    boxes[0] = [-6.0, -3.0, 50.0, 45.0]  # beyond the map on every side
    boxes[1] = [10.0, 10.0, 10.4, 10.2]  # smaller than a pixel
    rois = np.concatenate([np.array([[1], [0], [1], [0], [0], [1]], float), boxes], axis=1)
    expected = np_roi_align(features, rois, bins, scale, ratio, aligned)
    out = roi_align(tensor(features), tensor(rois), bins, scale, ratio, aligned)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-13)
    per_image = [tensor(boxes[rois[:, 0] == 0]), tensor(boxes[rois[:, 0] == 1])]
    order = np.argsort(rois[:, 0], kind="stable")
    np.testing.assert_allclose(
        roi_align(tensor(features), per_image, bins, scale, ratio, aligned).numpy(),
        expected[order],
        rtol=1e-12,
        atol=1e-13,
    )


def test_roi_align_gradient_by_finite_differences():
    features = RNG.standard_normal((2, 2, 6, 7))
    rois = np.concatenate([[[1.0], [0.0], [1.0]], random_boxes(3, 7.0)], axis=1)
    weights = RNG.standard_normal((3, 2, 2, 3))
    x = Variable(tensor(features), requires_grad=True)
    (roi_align(x, tensor(rois), (2, 3), 1.0, 2, True) * tensor(weights)).sum().backward()
    numeric = np.zeros_like(features)
    for index in np.ndindex(features.shape):
        step = np.zeros_like(features)
        step[index] = 1e-6
        plus = (np_roi_align(features + step, rois, (2, 3), 1.0, 2, True) * weights).sum()
        minus = (np_roi_align(features - step, rois, (2, 3), 1.0, 2, True) * weights).sum()
        numeric[index] = (plus - minus) / 2e-6
    np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)
    with pytest.raises(BoxFormatError):
        roi_align(tensor(features), tensor(rois[:, 1:]), 2)
