"""Speed benchmark: the MSA rho sweep batched over rho against one run per rho.

``dltheory.control.msa.msa_train`` runs several penalties side by side (one batched autograd call
per inner ascent step). This script times the book-scale sweep of one seed both ways, checks that
the losses agree to 1e-12 and prints the speed ratio.

Run: ``python benchmarks/control_msa.py [--n-iter K]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dltheory.control import experiments_training as ET
from dltheory.control import msa


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-iter", type=int, default=5, help="MSA iterations per run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = ET.msa_sizes("book")
    model, W, b, x, y, _, _ = ET._msa_setup(sizes, 0, torch.device("cpu"))
    kw = dict(n_iter=args.n_iter, n_inner=sizes.n_inner, inner_lr=sizes.inner_lr)
    t0 = time.perf_counter()
    batched = msa.msa_train(model, W, b, x, y, rho=list(sizes.rhos), **kw)
    t_batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    single = [msa.msa_train(model, W, b, x, y, rho=r, **kw).loss[:, 0] for r in sizes.rhos]
    t_single = time.perf_counter() - t0
    gap = float(np.max(np.abs(np.stack(single, 1) - batched.loss)))
    print(
        f"{len(sizes.rhos)} values of rho, {args.n_iter} iterations x {sizes.n_inner} inner steps"
    )
    print(
        f"batched: {t_batched:.2f} s   one run per rho: {t_single:.2f} s   "
        f"ratio {t_single / t_batched:.2f}   max |loss difference| {gap:.1e}"
    )


if __name__ == "__main__":
    main()
