"""Finite-horizon discrete linear-quadratic (LQ) control, solved by dynamic programming and by
Pontryagin.

Problem: minimise ``J = sum_{t<T} (x_t' Q x_t + u_t' R u_t) / 2 + x_T' Q_f x_T / 2`` subject to
``x_{t+1} = A x_t + B u_t`` from a given ``x_0``.

* Dynamic programming (Bellman): the value is ``x' P_t x / 2`` with the backward Riccati recursion
  ``K_t = (R + B' P_{t+1} B)^{-1} B' P_{t+1} A``, ``P_t = Q + A' P_{t+1} (A - B K_t)``,
  ``P_T = Q_f`` and ``u_t = -K_t x_t``.
* Pontryagin: with costate ``lambda_t`` (``= -p_t``), ``x_{t+1} = A x_t + B u_t``,
  ``R u_t + B' lambda_{t+1} = 0``, ``lambda_t = Q x_t + A' lambda_{t+1}``, ``lambda_T = Q_f x_T``: a
  two-point boundary value problem that is one sparse linear system in
  ``(x_1..x_T, u_0..u_{T-1}, lambda_1..lambda_T)``.

Continuous time: ``dx/dt = A x + B u`` with cost ``int_0^tf (x' Q x + u' R u) / 2 dt + x(tf)' Q_f
x(tf) / 2`` has the value ``x' P(t) x / 2``, where ``P`` solves the Riccati ODE (the HJB equation
for a quadratic value) ``-dP/dt = Q + A' P + P A - P B R^{-1} B' P``, ``P(tf) = Q_f``
(:func:`riccati_ode`). Its explicit-Euler discretisation with step ``h`` (``A_h = I + h A``,
``B_h = h B``, ``Q_h = h Q``, ``R_h = h R``: :func:`euler_lq`) is a discrete LQ problem whose
Riccati recursion converges to ``P(0)`` at order 1 in ``h``.
"""

from __future__ import annotations

import numpy as np
import scipy.integrate
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from dltheory import _checks as checks

__all__ = [
    "check_lq",
    "riccati",
    "lq_rollout",
    "lq_cost",
    "lq_pmp",
    "dare",
    "riccati_ode",
    "euler_lq",
]

#: Largest state or input dimension accepted (the solvers are dense).
MAX_DIM = 2000


def _mat(name, M):
    return np.atleast_2d(checks.real_array(name, M, ndim=(0, 1, 2)))


def check_lq(A, B, Q, R, Qf=None, x0=None):
    """Validate and convert LQ matrices (float64). Returns ``(A, B, Q, R, Qf, x0)``.

    Raises:
        TypeError: for entries that are not real numbers.
        ValueError: for inconsistent shapes, non-finite entries, non-symmetric or indefinite ``Q``,
            ``Qf`` (must be PSD) or ``R`` (must be positive definite).

    Example:
        >>> A, B, Q, R, Qf, x0 = check_lq(1.0, [[1.0]], 1.0, 2.0, x0=[3.0])
        >>> A.shape, float(Qf[0, 0]), x0.tolist()
        ((1, 1), 1.0, [3.0])
    """
    A, B, Q, R = (_mat(k, M) for k, M in dict(A=A, B=B, Q=Q, R=R).items())
    n = A.shape[0]
    checks.integer("the state dimension", n, high=MAX_DIM)
    if A.shape != (n, n):
        raise ValueError(f"A must be square (n, n); got {A.shape}")
    if B.ndim != 2 or B.shape[0] != n:
        raise ValueError(f"B must have shape (n, m) = ({n}, m); got {B.shape}")
    m = B.shape[1]
    checks.integer("the input dimension", m, high=MAX_DIM)
    Qf = Q if Qf is None else _mat("Qf", Qf)
    for name, M, k, pd in (("Q", Q, n, False), ("Qf", Qf, n, False), ("R", R, m, True)):
        if M.shape != (k, k):
            raise ValueError(f"{name} must have shape ({k}, {k}); got {M.shape}")
        if not np.allclose(M, M.T, atol=1e-12):
            raise ValueError(f"{name} must be symmetric")
        ev = np.linalg.eigvalsh(M).min()
        if (pd and ev <= 0) or ev < -1e-12:
            raise ValueError(
                f"{name} must be positive {'definite' if pd else 'semi-definite'}; smallest "
                f"eigenvalue {ev:.3g}"
            )
    if x0 is not None:
        x0 = checks.real_array("x0", x0)
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
        ``(P, K)``: value matrices ``P`` of shape ``(T + 1, n, n)`` and gains ``K`` of shape
        ``(T, m, n)``.

    Example:
        >>> P, K = riccati([[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], 1)
        >>> round(float(K[0, 0, 0]), 6), round(float(P[0, 0, 0]), 6)
        (0.5, 1.5)
    """
    A, B, Q, R, Qf, _ = check_lq(A, B, Q, R, Qf)
    T = checks.integer("T", T, high=10_000_000)
    n, m = B.shape
    checks.size("(T + 1) * n * n", (T + 1) * n * n)
    checks.work("T", T, n**3 + m**3)
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
    """Stationary Riccati solution of the infinite-horizon problem
    (``scipy.linalg.solve_discrete_are``).

    Example:
        >>> round(float(dare([[1.0]], [[1.0]], [[1.0]], [[1.0]])[0, 0]), 6)  # (1 + sqrt 5) / 2
        1.618034
    """
    A, B, Q, R, _, _ = check_lq(A, B, Q, R)
    return scipy.linalg.solve_discrete_are(A, B, Q, R)


def lq_rollout(A, B, K, x0) -> tuple[np.ndarray, np.ndarray]:
    """States and controls of the feedback law ``u_t = -K_t x_t``: ``xs`` ``(T + 1, n)``, ``us``
    ``(T, m)``.

    Example:
        >>> xs, us = lq_rollout([[1.0]], [[1.0]], [[[0.5]]], [2.0])
        >>> xs.ravel().tolist(), us.ravel().tolist()
        ([2.0, 1.0], [-1.0])
    """
    A, B = _mat("A", A), _mat("B", B)
    n = A.shape[0]
    if A.shape != (n, n) or B.shape[0] != n:
        raise ValueError(f"A must be (n, n) and B (n, m); got {A.shape} and {B.shape}")
    K = checks.real_array("K", K, ndim=3)
    if K.shape[1:] != (B.shape[1], n):
        raise ValueError(f"K must have shape (T, m, n) = (T, {B.shape[1]}, {n}); got {K.shape}")
    x = checks.real_array("x0", x0, ndim=1)
    if x.shape != (n,):
        raise ValueError(f"x0 must have shape ({n},); got {x.shape}")
    xs, us = [x], []
    for Kt in K:
        u = -Kt @ x
        x = A @ x + B @ u
        xs.append(x)
        us.append(u)
    return np.array(xs), np.array(us).reshape(len(K), B.shape[1])


def lq_cost(xs, us, Q, R, Qf) -> float:
    """``J = sum_t (x_t' Q x_t + u_t' R u_t) / 2 + x_T' Q_f x_T / 2`` for ``xs`` ``(T + 1, n)``,
    ``us`` ``(T, m)``.

    Example:
        >>> round(lq_cost([[2.0], [1.0]], [[-1.0]], [[1.0]], [[1.0]], [[1.0]]), 6)
        3.0
    """
    xs = checks.real_array("xs", xs, ndim=2)
    us = checks.real_array("us", us, ndim=2)
    if xs.shape[0] != us.shape[0] + 1:
        raise ValueError(f"xs must have one more row than us; got {xs.shape} and {us.shape}")
    n, m = xs.shape[1], us.shape[1]
    Q, Qf = checks.spd("Q", _mat("Q", Q), psd=True), checks.spd("Qf", _mat("Qf", Qf), psd=True)
    R = checks.spd("R", _mat("R", R))
    for name, M, k in (("Q", Q, n), ("R", R, m), ("Qf", Qf, n)):
        if M.shape != (k, k):
            raise ValueError(f"{name} must have shape ({k}, {k}) to match xs and us; got {M.shape}")
    run = np.einsum("ti,ij,tj->", xs[:-1], Q, xs[:-1]) + np.einsum("ti,ij,tj->", us, R, us)
    return float(0.5 * (run + xs[-1] @ Qf @ xs[-1]))


def lq_pmp(A, B, Q, R, Qf, T: int, x0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the LQ problem from Pontryagin's conditions as one sparse linear system.

    Unknowns ``z = (x_1..x_T, u_0..u_{T-1}, lambda_1..lambda_T)``; equations
    ``x_{t+1} - A x_t - B u_t = 0`` (``x_0`` given), ``R u_t + B' lambda_{t+1} = 0``,
    ``lambda_t - Q x_t - A' lambda_{t+1} = 0`` (``t = 1..T-1``) and ``lambda_T - Q_f x_T = 0``.

    Returns:
        ``(xs, us, lams)`` with ``xs`` ``(T + 1, n)`` (including ``x_0``), ``us`` ``(T, m)`` and the
        costates ``lams`` ``(T + 1, n)`` (``lams[0] = Q x_0 + A' lambda_1``, the gradient of ``J``
        in ``x_0``).

    Example:
        >>> xs, us, lams = lq_pmp([[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], 1, [1.0])
        >>> round(float(us[0, 0]), 6)
        -0.5
    """
    if x0 is None:
        raise ValueError("x0 is required")
    A, B, Q, R, Qf, x0 = check_lq(A, B, Q, R, Qf, x0)
    T = checks.integer("T", T, high=1_000_000)
    n, m = B.shape
    checks.size("T * (2n + m) unknowns", T * (2 * n + m) * 8)
    nx, nu = T * n, T * m
    N = 2 * nx + nu

    def ix(t):
        return slice((t - 1) * n, t * n)  # x_t, t = 1..T

    def iu(t):
        return slice(nx + t * m, nx + (t + 1) * m)  # u_t, t = 0..T-1

    def il(t):
        return slice(nx + nu + (t - 1) * n, nx + nu + t * n)  # lambda_t, t = 1..T

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


def riccati_ode(
    A, B, Q, R, Qf, *, t_end: float, rtol: float = 1e-11, atol: float = 1e-12
) -> np.ndarray:
    """``P(0)`` of the continuous-time Riccati ODE ``-dP/dt = Q + A'P + PA - P B R^{-1} B' P``,
    ``P(t_end) = Q_f``.

    ``V(t, x) = x' P(t) x / 2`` solves the Hamilton-Jacobi-Bellman equation
    ``-dV/dt = min_u [ (x'Qx + u'Ru)/2 + grad V . (Ax + Bu) ]`` of the problem in the module
    docstring, with the minimiser ``u = -R^{-1} B' P x``. Integrated backwards with
    ``scipy.integrate.solve_ivp`` (DOP853 at the given tolerances).

    Example:
        >>> # scalar a = 0, b = q = r = 1: P(0) = tanh(t_end + atanh(Qf))
        >>> round(float(riccati_ode(0.0, 1.0, 1.0, 1.0, 0.0, t_end=1.0)[0, 0]), 8)
        0.76159416
    """
    A, B, Q, R, Qf, _ = check_lq(A, B, Q, R, Qf)
    t_end = checks.positive("t_end", t_end)
    rtol = checks.real("rtol", rtol, low=1e-14, high=1e-2)
    atol = checks.real("atol", atol, low=0.0, low_open=True, high=1.0)
    n = A.shape[0]
    BRB = B @ np.linalg.solve(R, B.T)
    # the adaptive solver takes about 100 steps per unit of the Hamiltonian matrix's time scale
    rate = max(1.0, float(np.linalg.norm(np.block([[A, -BRB], [-Q, -A.T]]), 2)))
    checks.work(
        "t_end", 100 * t_end * rate, n**3, sizes="about 100 steps per unit time of A, B, Q, R"
    )

    def rhs(s, p):  # s = t_end - t runs forwards
        P = p.reshape(n, n)
        dP = Q + A.T @ P + P @ A - P @ BRB @ P
        return (0.5 * (dP + dP.T)).ravel()

    sol = scipy.integrate.solve_ivp(
        rhs, (0.0, t_end), Qf.ravel(), method="DOP853", rtol=rtol, atol=atol
    )
    if not sol.success:
        raise ValueError(f"the Riccati ODE could not be integrated: {sol.message}")
    return sol.y[:, -1].reshape(n, n)


def euler_lq(A, B, Q, R, *, h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The explicit-Euler discretisation ``(I + h A, h B, h Q, h R)`` of a continuous-time LQ
    problem.

    Its Bellman recursion (:func:`riccati` with ``T = t_end / h`` steps) is the dynamic-programming
    discretisation of the HJB equation; ``P_0`` converges to :func:`riccati_ode`'s ``P(0)`` at
    order 1.

    Example:
        >>> [M.tolist() for M in euler_lq(1.0, 1.0, 1.0, 1.0, h=0.5)]
        [[[1.5]], [[0.5]], [[0.5]], [[0.5]]]
    """
    A, B, Q, R, _, _ = check_lq(A, B, Q, R)
    h = checks.positive("h", h)
    return np.eye(A.shape[0]) + h * A, h * B, h * Q, h * R
