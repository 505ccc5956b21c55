"""Mutants of the control chapter: plausible wrong theories its claims must catch."""

import numpy as np
import scipy.linalg
import torch
from harness import Mutant


def _costates_wrong_transpose(original):
    """The costate recursion with W instead of W^T: p_t = p + h W (s * p), i.e. (s p) W^T."""

    def wrong(model, W, b, xs, y):
        logits = xs[-1] @ model.C.T
        onehot = torch.nn.functional.one_hot(y, logits.shape[1]).to(xs.dtype)
        p = -(torch.softmax(logits, dim=1) - onehot) @ model.C
        ps = [p]
        for t in range(W.shape[0] - 1, -1, -1):
            s = 1 - torch.tanh(xs[t] @ W[t].T + b[t]) ** 2
            p = p + model.h * (s * p) @ W[t].T
            ps.append(p)
        return torch.stack(ps[::-1])

    return wrong


def _riccati_missing_feedback(original):
    """The Riccati update without its feedback term: P_t = Q + A' P_{t+1} A (gains still
    computed)."""

    def wrong(A, B, Q, R, Qf, T):
        P, K = original(A, B, Q, R, Qf, T)
        A, B, Q, R = (np.asarray(M, dtype=float) for M in (A, B, Q, R))
        P[T] = np.asarray(Qf, dtype=float)
        for t in range(T - 1, -1, -1):
            S = R + B.T @ P[t + 1] @ B
            K[t] = scipy.linalg.solve(S, B.T @ P[t + 1] @ A, assume_a="pos")
            P[t] = Q + A.T @ P[t + 1] @ A
        return P, K

    return wrong


def _ddp_without_second_order(original):
    """DDP that drops the V_x . f_xx terms (iLQR / Gauss-Newton) but is reported as DDP."""

    def wrong(problem, x0, us0, **kw):
        kw["second_order"] = False
        return original(problem, x0, us0, **kw)

    return wrong


def _first_order_schedule(original):
    """The noise-free (gradient-flow) theory's schedule: the full rate is optimal throughout."""

    def wrong(t, **kw):
        return np.ones_like(np.asarray(original(t, **kw), dtype=float))

    return wrong


def _aug_ham_without_costate_penalty(original):
    """The augmented Hamiltonian with the state penalty only (the costate mismatch term dropped)."""

    def wrong(model, W, b, xs, ps, rho):
        H, gW, gb = original(model, W, b, xs, ps, rho)
        H0, gW0, gb0 = original(model, W, b, xs, ps, torch.zeros_like(rho))
        h = model.h
        xt, x1 = xs[:, :-1], xs[:, 1:]
        N = xt.shape[-2]
        r = rho[:, None, None, None]
        a = torch.tanh(xt @ W.transpose(-1, -2) + b[:, :, None, :])
        ex = x1 - xt - h * a
        gz = (1 - a * a) * (h * r * ex)
        H = H0 - 0.5 * rho * (ex * ex).sum((1, 2, 3)) / N
        return H, gW0 + gz.transpose(-1, -2) @ xt / N, gb0 + gz.sum(-2) / N

    return wrong


MUTANTS = [
    Mutant(
        "costate-wrong-transpose",
        "costate recursion p_t = p + h (s p) W^T instead of (s p) W",
        "dltheory.control.pmp:_costates",
        _costates_wrong_transpose,
    ),
    Mutant(
        "riccati-missing-feedback",
        "Riccati update P = Q + A'PA, missing the -A'PBK term",
        "dltheory.control.lq:riccati",
        _riccati_missing_feedback,
    ),
    Mutant(
        "ddp-without-second-order",
        "DDP without the V_x f_xx terms (iLQR) taken for DDP",
        "dltheory.control.ddp:ddp",
        _ddp_without_second_order,
    ),
    Mutant(
        "lr-first-order-schedule",
        "learning-rate control from the noise-free theory: u = 1",
        "dltheory.control.lr:optimal_lr_schedule",
        _first_order_schedule,
    ),
    Mutant(
        "emsa-no-costate-penalty",
        "augmented Hamiltonian without the costate mismatch penalty",
        "dltheory.control.msa:_aug_ham_grad",
        _aug_ham_without_costate_penalty,
    ),
]
