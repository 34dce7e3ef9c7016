"""Train `modeldoc.examples.digits.Network` on scikit-learn's 8×8 digits and save its weights as safetensors.

``python -m modeldoc.examples.train_digits --out digits.safetensors`` trains for a few epochs on
a CPU (a few seconds), prints the accuracy on a held-out fifth of the images, and writes the
weights with that accuracy in the file's metadata. Everything is seeded and runs on one thread,
so the same versions of torch and scikit-learn write the same weights. The data ship with
scikit-learn (``sklearn.datasets.load_digits``): nothing is downloaded. scikit-learn is one of
modeldoc's development dependencies (``pip install scikit-learn``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from modeldoc.examples.digits import WEIGHTS, Network

SEED = 0
EPOCHS = 30
BATCH = 64
LEARNING_RATE = 3e-3
HELD_OUT = 0.2


def train(epochs: int = EPOCHS) -> tuple[Network, float, int, int]:
    """The trained network, its accuracy on the held-out images, and how many were trained on and held out."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    digits = load_digits()
    images = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)  # N × 1 × 8 × 8, in 0..1
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_idx, test_idx = train_test_split(
        range(len(labels)), test_size=HELD_OUT, random_state=SEED, stratify=digits.target
    )
    x_train, y_train = images[list(train_idx)], labels[list(train_idx)]
    x_test, y_test = images[list(test_idx)], labels[list(test_idx)]
    network = Network()
    optimizer = torch.optim.Adam(network.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        network.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            optimizer.zero_grad()
            loss = F.cross_entropy(network(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
    network.eval()
    with torch.no_grad():
        accuracy = float((network(x_test).argmax(dim=1) == y_test).float().mean())
    return network, accuracy, len(x_train), len(x_test)


def main(argv: list[str] | None = None) -> None:
    """Train, report the held-out accuracy, and save the weights."""
    from safetensors.torch import save_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS, help="where to write the weights (.safetensors)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)
    network, accuracy, trained_on, held_out = train(args.epochs)
    metadata = {
        "data": "scikit-learn load_digits (8×8 images of handwritten digits)",
        "trained_on": f"{trained_on} images",
        "held_out": f"{held_out} images ({HELD_OUT:.0%}, stratified, seed {SEED})",
        "held_out_accuracy": f"{accuracy:.4f}",
        "epochs": str(args.epochs),
        "trained_by": "python -m modeldoc.examples.train_digits",
    }
    save_file({k: v.contiguous() for k, v in network.state_dict().items()}, str(args.out), metadata=metadata)
    print(f"held-out accuracy {accuracy:.2%} on {held_out} images; weights written to {args.out}")


if __name__ == "__main__":
    main()
