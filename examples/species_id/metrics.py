"""Per-class precision, recall and F1 and the confusion matrix (scikit-learn's definitions:
rows are true classes, a class never predicted has precision 0), and the matrix as a PNG."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from axon_core import atomic_writer


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """``[classes, classes]`` int64 counts: entry ``[i, j]`` is how many of class ``i`` were predicted ``j``."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"confusion_matrix: labels {y_true.shape} and predictions {y_pred.shape} must be one 1-d shape"
        )
    if y_true.size and (min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= classes):
        raise ValueError(f"confusion_matrix: labels must lie in [0, {classes})")
    return np.bincount(y_true * classes + y_pred, minlength=classes * classes).reshape(classes, classes)


@dataclass(frozen=True)
class ClassScores:
    """Per-class ``precision``, ``recall``, ``f1`` (float64) and ``support`` (int64), each ``[classes]``."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    @property
    def macro_f1(self) -> float:
        return float(self.f1.mean())


def class_scores(matrix: np.ndarray) -> ClassScores:
    """Scores from a confusion matrix; a 0/0 ratio is 0, as scikit-learn's ``zero_division=0``."""
    hits = np.diag(matrix).astype(np.float64)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    return ClassScores(precision, recall, f1, support.astype(np.int64))


def plot_confusion(matrix: np.ndarray, names: tuple[str, ...], path: str | Path) -> None:
    """The matrix as a PNG heat map with counts in the cells (matplotlib's Agg), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1.0 + 0.8 * len(names), 0.8 + 0.8 * len(names)))
    axes = figure.add_subplot()
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (i, j), count in np.ndenumerate(matrix):
        axes.text(j, i, str(count), ha="center", va="center", color="white" if count > matrix.max() / 2 else "black")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    with atomic_writer(path) as out:
        out.write(buffer.getvalue())
