"""The meta-gradient of unrolled gradient descent is a costate (reverse-mode through the inner
loop).

Inner training on quadratics ``L_j(theta) = theta' A_j theta / 2 - b_j' theta`` with step sizes
``alpha_j``,

    theta_{j+1} = theta_j - alpha_j (A_j theta_j - b_j),       j = 0..k-1,

is a discrete control system whose state is ``theta`` and whose controls are the initial point and
the learning rates. For a test loss ``L_test(theta_k)`` the costates
``lambda_k = grad L_test(theta_k)``, ``lambda_j = (I - alpha_j A_j)' lambda_{j+1}`` give

    dL_test/dtheta_0 = lambda_0 = prod_j (I - alpha_j A_j)' grad L_test(theta_k),
    dL_test/dalpha_j = -lambda_{j+1}' (A_j theta_j - b_j),

the meta-gradient of MAML-type methods (Finn et al. 2017) and the hypergradient of
learning-rate tuning (Maclaurin et al. 2015; Franceschi et al. 2017), both by the adjoint recursion
that the control chapter derives for the network's layers.
"""

from __future__ import annotations

import torch

from dltheory import _checks as checks

__all__ = ["unroll_quadratic", "meta_costates", "meta_gradient", "meta_gradient_autograd"]


def _check(theta0, A, b, lrs, A_test=None, b_test=None):
    theta0 = checks.tensor("theta0", theta0, ndim=1)
    d = theta0.shape[0]
    A = checks.tensor("A", A, ndim=3, dtype=theta0.dtype)
    k = A.shape[0]
    if A.shape[1:] != (d, d):
        raise ValueError(f"A must have shape (k, {d}, {d}) to match theta0; got {tuple(A.shape)}")
    b = checks.tensor("b", b, shape=(k, d), dtype=theta0.dtype)
    lrs = checks.tensor("lrs", lrs, shape=(k,), dtype=theta0.dtype)
    if (lrs <= 0).any():
        raise ValueError(f"lrs must be > 0; got a value of {float(lrs[lrs <= 0][0])}")
    out = [theta0, A, b, lrs]
    if A_test is not None:
        out.append(checks.tensor("A_test", A_test, shape=(d, d), dtype=theta0.dtype))
        out.append(checks.tensor("b_test", b_test, shape=(d,), dtype=theta0.dtype))
    return out


def _unroll(theta0, A, b, lrs):
    thetas = [theta0]
    for j in range(A.shape[0]):
        thetas.append(thetas[-1] - lrs[j] * (A[j] @ thetas[-1] - b[j]))
    return thetas


def unroll_quadratic(theta0, A, b, lrs) -> torch.Tensor:
    """The inner trajectory ``theta_0..theta_k`` of gradient descent on the quadratics,
    ``(k + 1, d)``.

    Args:
        theta0: initial point ``(d,)``.
        A: curvatures ``(k, d, d)``; b: linear terms ``(k, d)``.
        lrs: step sizes ``(k,)``, all ``> 0``.

    Example:
        >>> unroll_quadratic(
        ...     [1.0], [[[1.0]], [[1.0]]], [[0.0], [0.0]], [0.5, 0.5]
        ... ).flatten().tolist()
        [1.0, 0.5, 0.25]
    """
    theta0, A, b, lrs = _check(theta0, A, b, lrs)
    out = torch.stack(_unroll(theta0, A, b, lrs))
    return checks.finite_state("lrs", out, f"up to {float(lrs.max()):g}")


def meta_costates(theta0, A, b, lrs, A_test, b_test) -> torch.Tensor:
    """Costates ``lambda_0..lambda_k`` of the inner loop (hand-derived backward recursion),
    ``(k + 1, d)``.

    Example:
        >>> lam = meta_costates([1.0], [[[1.0]]], [[0.0]], [0.5], [[1.0]], [0.0])
        >>> lam.flatten().tolist()  # grad at theta_1 = 0.5, times (1 - 0.5)
        [0.25, 0.5]
    """
    theta0, A, b, lrs, At, bt = _check(theta0, A, b, lrs, A_test, b_test)
    thetas = _unroll(theta0, A, b, lrs)
    lam = [At @ thetas[-1] - bt]
    eye = torch.eye(theta0.shape[0], dtype=theta0.dtype)
    for j in range(A.shape[0] - 1, -1, -1):
        lam.append((eye - lrs[j] * A[j]).T @ lam[-1])
    return torch.stack(lam[::-1])


def meta_gradient(theta0, A, b, lrs, A_test, b_test) -> tuple[torch.Tensor, torch.Tensor]:
    """``(dL_test/dtheta_0, dL_test/dalpha)`` from the costates: ``lambda_0`` and
    ``-lambda_{j+1}' g_j``.

    Example:
        >>> g0, ga = meta_gradient([1.0], [[[1.0]]], [[0.0]], [0.5], [[1.0]], [0.0])
        >>> g0.tolist(), ga.tolist()
        ([0.25], [-0.5])
    """
    theta0, A, b, lrs, At, bt = _check(theta0, A, b, lrs, A_test, b_test)
    thetas = _unroll(theta0, A, b, lrs)
    lam = meta_costates(theta0, A, b, lrs, At, bt)
    grads = torch.stack([A[j] @ thetas[j] - b[j] for j in range(A.shape[0])])
    return lam[0], -(lam[1:] * grads).sum(1)


def meta_gradient_autograd(theta0, A, b, lrs, A_test, b_test) -> tuple[torch.Tensor, torch.Tensor]:
    """The same two gradients by reverse-mode autograd through the unrolled loop (the reference).

    Example:
        >>> g0, ga = meta_gradient_autograd([1.0], [[[1.0]]], [[0.0]], [0.5], [[1.0]], [0.0])
        >>> g0.tolist(), ga.tolist()
        ([0.25], [-0.5])
    """
    theta0, A, b, lrs, At, bt = _check(theta0, A, b, lrs, A_test, b_test)
    theta0 = theta0.detach().clone().requires_grad_(True)
    lrs = lrs.detach().clone().requires_grad_(True)
    th = _unroll(theta0, A, b, lrs)[-1]
    loss = 0.5 * th @ At @ th - bt @ th
    return torch.autograd.grad(loss, (theta0, lrs))
