"""Speed benchmark: one seed's full information plane, and the throughput of the MI estimators.

1. **One seed's information plane.** The 12-10-7-5-4-3-2 tanh network of Shwartz-Ziv & Tishby (Adam
   4e-4, mini-batches of 256, 80% training split) for ``--epochs`` epochs, with binned ``I(X;T)``
   and ``I(T;Y)`` of all five hidden layers at 30 log-spaced epochs: the batched trainer with a
   model dimension of 1. Then the same with ``--models`` networks in one batched model, to show that
   the extra networks are nearly free (the time is per-operation overhead).
2. **Estimator throughput.** Binning (30 bins, all 4096 patterns) of ``--batch`` layers at once, and
   the pairwise-distance KDE bound for one 4096 x 5 layer, all rows and with a 256-row outer
   average.

Times are wall-clock on one intra-op thread; on a shared machine they are several times slower.

Run: ``python benchmarks/information_plane.py [--epochs 3000] [--models 6] [--batch 150]``
"""

from __future__ import annotations

import argparse
import time

import torch

from dltheory.information import data, estimators, network


def plane_time(epochs: int, n_models: int) -> float:
    d = data.surrogate()
    x = torch.tensor(2 * d.x - 1, dtype=torch.float32)
    y = torch.tensor(d.y)
    seeds = list(range(n_models))
    model = network.BatchedMLP.init([12, 10, 7, 5, 4, 3, 2], ["tanh"] * n_models, seeds)
    idx = network.split_indices(4096, 3276, seeds)

    def on_record(epoch, hidden, train_err, test_err):
        for h in hidden:
            estimators.binned_information(h, y, bins=30)

    start = time.perf_counter()
    network.train_batched(
        model,
        x,
        y,
        train_idx=idx,
        epochs=epochs,
        lr=4e-4,
        batch_size=256,
        seeds=seeds,
        record_epochs=network.log_epochs(epochs, 30),
        on_record=on_record,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3000)
    parser.add_argument("--models", type=int, default=6)
    parser.add_argument("--batch", type=int, default=150)
    args = parser.parse_args()
    torch.set_num_threads(1)

    one = plane_time(args.epochs, 1)
    many = plane_time(args.epochs, args.models)
    print(
        f"information plane, {args.epochs} epochs, 1 network: {one:.1f} s "
        f"({1e3 * one / args.epochs:.2f} ms/epoch)"
    )
    print(
        f"  {args.models} networks in one batched model: {many:.1f} s "
        f"({many / one:.2f} x the time of one)"
    )

    g = torch.Generator().manual_seed(0)
    y = torch.tensor(data.surrogate().y)
    t = torch.tanh(3 * torch.randn(args.batch, 4096, 5, generator=g))
    start = time.perf_counter()
    estimators.binned_information(t, y, bins=30)
    dt = time.perf_counter() - start
    print(
        f"binning: {args.batch} layers of 4096 x 5 in {dt:.3f} s "
        f"({args.batch / dt:.0f} layer estimates/s)"
    )
    for rows in (None, 256):
        start = time.perf_counter()
        estimators.kde_information(t[0], y, noise_var=1e-3, rows=rows)
        dt = time.perf_counter() - start
        print(
            f"KDE bound, one 4096 x 5 layer, {rows or 4096} rows: {dt:.3f} s "
            f"({4096 * (rows or 4096) / dt / 1e6:.0f} M pairs/s)"
        )


if __name__ == "__main__":
    main()
