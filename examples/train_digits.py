"""Train an MLP and a small CNN on scikit-learn's bundled handwritten digits (8×8 images).

    python examples/train_digits.py

Prints test accuracy for both models, trained with axon-optim's AdamW and a cosine learning-rate
schedule.
"""

from __future__ import annotations

import numpy as np
from axon_autograd import Variable, no_grad
from axon_tensor import Generator, manual_seed, tensor

import axon_nn as nn
import axon_nn.functional as F
import axon_optim as optim


def load_digits_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Images ``[N, 1, 8, 8]`` scaled to [0, 1] and labels, split 75% / 25% stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    return train_test_split(images, digits.target.astype(np.int64), test_size=0.25, random_state=seed, stratify=digits.target)


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, lr: float, batch: int = 64, seed: int = 0) -> list[float]:
    """Mini-batch AdamW with cross-entropy, lr annealed by a cosine per step; returns each epoch's mean loss."""
    order_rng = Generator(seed).numpy_generator
    steps_per_epoch = -(-len(x) // batch)
    opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = optim.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    history = []
    model.train()
    for _ in range(epochs):
        order = order_rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(Variable(tensor(x[idx]))), tensor(y[idx]))
            loss.backward()
            opt.step()
            schedule.step()
            losses.append(loss.item())
        history.append(float(np.mean(losses)))
    return history


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with no_grad():
        logits = model(Variable(tensor(x))).data.numpy()
    return float((logits.argmax(axis=1) == y).mean())


def main() -> dict[str, float]:
    manual_seed(0)
    x_train, x_test, y_train, y_test = load_digits_split()
    results = {}
    for name, build, epochs, lr in (("mlp", mlp, 15, 1e-2), ("cnn", cnn, 3, 5e-3)):
        model = build()
        history = train(model, x_train, y_train, epochs, lr)
        results[name] = accuracy(model, x_test, y_test)
        print(f"{name}: final train loss {history[-1]:.4f}, test accuracy {results[name]:.4f}")
    return results


if __name__ == "__main__":
    main()
