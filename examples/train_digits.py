"""Train an MLP and a small CNN on scikit-learn's bundled handwritten digits (8×8 images).

    python examples/train_digits.py [--monitor]

Prints test accuracy for both models, trained with axon-optim's AdamW and a cosine learning-rate
schedule. With ``--monitor`` each run is shown live on axon's TrainingMonitor dashboard (its URL
is printed; no browser is opened).
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np

import axon_nn as nn
import axon_nn.functional as F
import axon_optim as optim
from axon_autograd import Variable, no_grad
from axon_tensor import Generator, manual_seed, tensor


def load_digits_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Images ``[N, 1, 8, 8]`` scaled to [0, 1] and labels, split 75% / 25% stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]
    return train_test_split(
        images, digits.target.astype(np.int64), test_size=0.25, random_state=seed, stratify=digits.target
    )


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(32 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def train(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    lr: float,
    batch: int = 64,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Mini-batch AdamW with cross-entropy, lr annealed by a cosine per step; returns each epoch's
    mean loss and reports it to ``on_epoch(epoch, loss)`` when given."""
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
        if on_epoch is not None:
            on_epoch(len(history), history[-1])
            model.train()
    return history


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with no_grad():
        logits = model(Variable(tensor(x))).data.numpy()
    return float((logits.argmax(axis=1) == y).mean())


def main(monitor: bool = False) -> dict[str, float]:
    manual_seed(0)
    x_train, x_test, y_train, y_test = load_digits_split()
    results = {}
    for name, build, epochs, lr in (("mlp", mlp, 15, 1e-2), ("cnn", cnn, 5, 5e-3)):
        model = build()
        dashboard = None
        if monitor:
            from axon import TrainingMonitor

            params = sum(p.numel() for p in model.parameters())
            dashboard = TrainingMonitor(f"digits-{name}", params).total_epochs(epochs).batch_size(64).launch()
            print(f"{name}: dashboard at {dashboard.url}")

            def on_epoch(epoch: int, loss: float, model: nn.Module = model, dashboard=dashboard) -> None:
                dashboard.log_epoch(epoch, loss, extras={"test_accuracy": accuracy(model, x_test, y_test)})

        history = train(model, x_train, y_train, epochs, lr, on_epoch=on_epoch if monitor else None)
        results[name] = accuracy(model, x_test, y_test)
        print(f"{name}: final train loss {history[-1]:.4f}, test accuracy {results[name]:.4f}")
        if dashboard is not None:
            dashboard.set_status("done")
            dashboard.close()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train an MLP and a CNN on scikit-learn's digits.")
    parser.add_argument("--monitor", action="store_true", help="show each run on a live TrainingMonitor dashboard")
    main(monitor=parser.parse_args().monitor)
