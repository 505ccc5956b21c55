"""Finite-horizon discrete linear-quadratic (LQ) control, solved by dynamic programming and by Pontryagin.

Problem: minimise ``J = sum_{t<T} (x_t' Q x_t + u_t' R u_t) / 2 + x_T' Q_f x_T / 2`` subject to
``x_{t+1} = A x_t + B u_t`` from a given ``x_0``.

* Dynamic programming (Bellman): the value is ``x' P_t x / 2`` with the backward Riccati recursion
  ``K_t = (R + B' P_{t+1} B)^{-1} B' P_{t+1} A``, ``P_t = Q + A' P_{t+1} (A - B K_t)``, ``P_T = Q_f`` and
  ``u_t = -K_t x_t``.
* Pontryagin: with costate ``lambda_t`` (``= -p_t``), ``x_{t+1} = A x_t + B u_t``, ``R u_t + B' lambda_{t+1} = 0``,
  ``lambda_t = Q x_t + A' lambda_{t+1}``, ``lambda_T = Q_f x_T``: a two-point boundary value problem that is
  one sparse linear system in ``(x_1..x_T, u_0..u_{T-1}, lambda_1..lambda_T)``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from dltheory._checks import integer

__all__ = ["check_lq", "riccati", "lq_rollout", "lq_cost", "lq_pmp", "dare"]


def check_lq(A, B, Q, R, Qf=None, x0=None):
    """Validate and convert LQ matrices (float64). Returns ``(A, B, Q, R, Qf, x0)``.

    Raises:
        ValueError: for inconsistent shapes, non-symmetric or indefinite ``Q``, ``Qf`` (must be PSD) or
            ``R`` (must be positive definite).
    """
    A, B, Q, R = (np.atleast_2d(np.asarray(M, dtype=float)) for M in (A, B, Q, R))
    n = A.shape[0]
    if A.shape != (n, n):
        raise ValueError(f"A must be square (n, n); got {A.shape}")
    if B.ndim != 2 or B.shape[0] != n:
        raise ValueError(f"B must have shape (n, m) = ({n}, m); got {B.shape}")
    m = B.shape[1]
    Qf = Q if Qf is None else np.atleast_2d(np.asarray(Qf, dtype=float))
    for name, M, k, pd in (("Q", Q, n, False), ("Qf", Qf, n, False), ("R", R, m, True)):
        if M.shape != (k, k):
            raise ValueError(f"{name} must have shape ({k}, {k}); got {M.shape}")
        if not np.allclose(M, M.T, atol=1e-12):
            raise ValueError(f"{name} must be symmetric")
        ev = np.linalg.eigvalsh(M).min()
        if (pd and ev <= 0) or ev < -1e-12:
            raise ValueError(f"{name} must be positive {'definite' if pd else 'semi-definite'}; smallest eigenvalue {ev:.3g}")
    if x0 is not None:
        x0 = np.asarray(x0, dtype=float)
        if x0.shape != (n,):
            raise ValueError(f"x0 must have shape ({n},); got {x0.shape}")
    return A, B, Q, R, Qf, x0


def riccati(A, B, Q, R, Qf, T: int) -> tuple[np.ndarray, np.ndarray]:
    """Backward Riccati recursion of the finite-horizon LQ problem (dynamic programming).

    Args:
        A, B: dynamics ``x_{t+1} = A x_t + B u_t`` (``(n, n)``, ``(n, m)``).
        Q, R, Qf: running state, control and terminal weights (PSD, PD, PSD).
        T: horizon ``>= 1``.

    Returns:
        ``(P, K)``: value matrices ``P`` of shape ``(T + 1, n, n)`` and gains ``K`` of shape ``(T, m, n)``.

    Example:
        >>> P, K = riccati([[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], 1)
        >>> float(K[0, 0, 0]), float(P[0, 0, 0])
        (0.5, 1.5)
    """
    A, B, Q, R, Qf, _ = check_lq(A, B, Q, R, Qf)
    T = integer("T", T)
    n, m = B.shape
    P = np.empty((T + 1, n, n))
    K = np.empty((T, m, n))
    P[T] = Qf
    for t in range(T - 1, -1, -1):
        S = R + B.T @ P[t + 1] @ B
        K[t] = scipy.linalg.solve(S, B.T @ P[t + 1] @ A, assume_a="pos")
        Pt = Q + A.T @ P[t + 1] @ (A - B @ K[t])
        P[t] = 0.5 * (Pt + Pt.T)
    return P, K


def dare(A, B, Q, R) -> np.ndarray:
    """Stationary Riccati solution of the infinite-horizon problem (``scipy.linalg.solve_discrete_are``)."""
    A, B, Q, R, _, _ = check_lq(A, B, Q, R)
    return scipy.linalg.solve_discrete_are(A, B, Q, R)


def lq_rollout(A, B, K, x0) -> tuple[np.ndarray, np.ndarray]:
    """States and controls of the feedback law ``u_t = -K_t x_t``: ``xs`` ``(T + 1, n)``, ``us`` ``(T, m)``."""
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    K = np.asarray(K, dtype=float)
    x = np.asarray(x0, dtype=float)
    if K.ndim != 3 or K.shape[1:] != (B.shape[1], A.shape[0]):
        raise ValueError(f"K must have shape (T, m, n) = (T, {B.shape[1]}, {A.shape[0]}); got {K.shape}")
    xs, us = [x], []
    for Kt in K:
        u = -Kt @ x
        x = A @ x + B @ u
        xs.append(x)
        us.append(u)
    return np.array(xs), np.array(us)


def lq_cost(xs, us, Q, R, Qf) -> float:
    """``J = sum_t (x_t' Q x_t + u_t' R u_t) / 2 + x_T' Q_f x_T / 2`` for ``xs`` ``(T + 1, n)`` and ``us`` ``(T, m)``."""
    xs = np.asarray(xs, dtype=float)
    us = np.asarray(us, dtype=float)
    if xs.shape[0] != us.shape[0] + 1:
        raise ValueError(f"xs must have one more row than us; got {xs.shape} and {us.shape}")
    run = np.einsum("ti,ij,tj->", xs[:-1], Q, xs[:-1]) + np.einsum("ti,ij,tj->", us, R, us)
    return float(0.5 * (run + xs[-1] @ Qf @ xs[-1]))


def lq_pmp(A, B, Q, R, Qf, T: int, x0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the LQ problem from Pontryagin's conditions as one sparse linear system.

    Unknowns ``z = (x_1..x_T, u_0..u_{T-1}, lambda_1..lambda_T)``; equations
    ``x_{t+1} - A x_t - B u_t = 0`` (``x_0`` given), ``R u_t + B' lambda_{t+1} = 0``,
    ``lambda_t - Q x_t - A' lambda_{t+1} = 0`` (``t = 1..T-1``) and ``lambda_T - Q_f x_T = 0``.

    Returns:
        ``(xs, us, lams)`` with ``xs`` ``(T + 1, n)`` (including ``x_0``), ``us`` ``(T, m)`` and the costates
        ``lams`` ``(T + 1, n)`` (``lams[0] = Q x_0 + A' lambda_1``, the gradient of ``J`` in ``x_0``).

    Example:
        >>> xs, us, lams = lq_pmp([[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], 1, [1.0])
        >>> float(us[0, 0])
        -0.5
    """
    A, B, Q, R, Qf, x0 = check_lq(A, B, Q, R, Qf, x0)
    if x0 is None:
        raise ValueError("x0 is required")
    T = integer("T", T)
    n, m = B.shape
    nx, nu = T * n, T * m
    N = 2 * nx + nu
    ix = lambda t: slice((t - 1) * n, t * n)  # x_t, t = 1..T
    iu = lambda t: slice(nx + t * m, nx + (t + 1) * m)  # u_t, t = 0..T-1
    il = lambda t: slice(nx + nu + (t - 1) * n, nx + nu + t * n)  # lambda_t, t = 1..T
    M = scipy.sparse.lil_matrix((N, N))
    rhs = np.zeros(N)
    row = 0
    I_n = np.eye(n)
    for t in range(T):  # dynamics: x_{t+1} - A x_t - B u_t = 0
        r = slice(row, row + n)
        M[r, ix(t + 1)] = I_n
        if t > 0:
            M[r, ix(t)] = -A
        else:
            rhs[r] = A @ x0
        M[r, iu(t)] = -B
        row += n
    for t in range(T):  # stationarity of the Hamiltonian: R u_t + B' lambda_{t+1} = 0
        r = slice(row, row + m)
        M[r, iu(t)] = R
        M[r, il(t + 1)] = B.T
        row += m
    for t in range(1, T + 1):  # costate: lambda_t - Q x_t - A' lambda_{t+1} = 0, lambda_T = Qf x_T
        r = slice(row, row + n)
        M[r, il(t)] = I_n
        if t < T:
            M[r, ix(t)] = -Q
            M[r, il(t + 1)] = -A.T
        else:
            M[r, ix(t)] = -Qf
        row += n
    z = scipy.sparse.linalg.spsolve(M.tocsc(), rhs)
    xs = np.vstack([x0, z[:nx].reshape(T, n)])
    us = z[nx : nx + nu].reshape(T, m)
    lam = z[nx + nu :].reshape(T, n)
    lam0 = Q @ x0 + A.T @ lam[0]
    return xs, us, np.vstack([lam0, lam])
