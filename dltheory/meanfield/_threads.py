"""Scoped single-threaded torch execution (see :func:`single_thread`)."""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def single_thread():
    """Run torch on one intra-op thread inside the block and restore the previous setting
    afterwards.

    The experiments are many small or memory-bound batched products; on a shared CPU, intra-op
    worker threads spin-waiting on each other slow them down several-fold (measured: eightfold for
    training). The setting is scoped, not global.
    """
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)
