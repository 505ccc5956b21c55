"""Differential dynamic programming (Jacobson & Mayne 1970) and iLQR, with Tassa-style regularisation.

A problem is an object with ``n``, ``m``, ``T`` and the methods

* ``step(x, u) -> x_next`` and ``derivs(x, u) -> (f_x, f_u, f_xx, f_ux, f_uu)`` with shapes
  ``(n, n), (n, m), (n, n, n), (n, m, n), (n, m, m)`` (first index: the output component);
* ``running(x, u) -> (l, l_x, l_u, l_xx, l_ux, l_uu)`` and ``terminal(x) -> (l, l_x, l_xx)``.

Backward pass (``V_x``, ``V_xx`` at ``t + 1``; ``mu`` the regularisation of Tassa, Erez & Todorov 2012)::

    Q_x  = l_x + f_x' V_x                   Q_u  = l_u + f_u' V_x
    Q_xx = l_xx + f_x' V_xx f_x + V_x . f_xx
    Q_uu = l_uu + f_u' (V_xx + mu I) f_u + V_x . f_uu
    Q_ux = l_ux + f_u' (V_xx + mu I) f_x + V_x . f_ux
    k = -Q_uu^{-1} Q_u,  K = -Q_uu^{-1} Q_ux

The terms ``V_x . f_..`` (second derivatives of the dynamics) make it DDP, with quadratic convergence
near a nondegenerate optimum; without them it is iLQR (Gauss-Newton). Dropping every second-order term
and setting ``Q_uu = I / eta`` leaves ``V_x = Q_x`` (the costate recursion, i.e. backpropagation) and
``k = -eta dJ/du``: a gradient-descent step (:func:`first_order_step`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from dltheory import figures
from dltheory._checks import integer, positive
from dltheory.control.lq import check_lq, dare, lq_cost, lq_pmp, lq_rollout, riccati

__all__ = [
    "LQProblem",
    "Pendulum",
    "rollout",
    "total_cost",
    "ddp",
    "DDPResult",
    "first_order_step",
    "newton_step",
    "quadratic_ratios",
    "lq_three_ways",
    "ddp_experiment",
]


@dataclass(frozen=True)
class LQProblem:
    """The LQ problem of :mod:`dltheory.control.lq` in the DDP problem interface."""

    A: np.ndarray
    B: np.ndarray
    Q: np.ndarray
    R: np.ndarray
    Qf: np.ndarray
    T: int

    def __post_init__(self):
        A, B, Q, R, Qf, _ = check_lq(self.A, self.B, self.Q, self.R, self.Qf)
        for k, v in dict(A=A, B=B, Q=Q, R=R, Qf=Qf).items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "T", integer("T", self.T))

    n = property(lambda self: self.A.shape[0])
    m = property(lambda self: self.B.shape[1])

    def step(self, x, u):
        return self.A @ x + self.B @ u

    def derivs(self, x, u):
        n, m = self.n, self.m
        return self.A, self.B, np.zeros((n, n, n)), np.zeros((n, m, n)), np.zeros((n, m, m))

    def running(self, x, u):
        return 0.5 * (x @ self.Q @ x + u @ self.R @ u), self.Q @ x, self.R @ u, self.Q, np.zeros((self.m, self.n)), self.R

    def terminal(self, x):
        return 0.5 * x @ self.Qf @ x, self.Qf @ x, self.Qf

    def vjp(self, x, u, v):
        return self.A.T @ v, self.B.T @ v


@dataclass(frozen=True)
class Pendulum:
    """Damped pendulum swing-up, explicit Euler with step ``dt``: state ``(theta, omega)``, ``theta = 0`` down.

    ``theta' = theta + dt omega``, ``omega' = omega + dt (-(g/l) sin theta - c omega + u)``; cost
    ``sum_t r u_t^2 dt / 2 + (x_T - x_goal)' Q_f (x_T - x_goal) / 2`` with ``x_goal = (pi, 0)``.
    """

    T: int = 60
    dt: float = 0.05
    g_over_l: float = 9.81
    damping: float = 0.1
    r: float = 0.1
    q_theta: float = 100.0
    q_omega: float = 10.0

    def __post_init__(self):
        integer("T", self.T)
        for k in ("dt", "g_over_l", "r", "q_theta", "q_omega"):
            positive(k, getattr(self, k))
        positive("damping", self.damping, allow_zero=True)

    n = 2
    m = 1

    @property
    def goal(self):
        return np.array([np.pi, 0.0])

    def step(self, x, u):
        th, om = x
        return np.array([th + self.dt * om, om + self.dt * (-self.g_over_l * np.sin(th) - self.damping * om + u[0])])

    def derivs(self, x, u):
        dt, th = self.dt, x[0]
        fx = np.array([[1.0, dt], [-dt * self.g_over_l * np.cos(th), 1.0 - dt * self.damping]])
        fu = np.array([[0.0], [dt]])
        fxx = np.zeros((2, 2, 2))
        fxx[1, 0, 0] = dt * self.g_over_l * np.sin(th)
        return fx, fu, fxx, np.zeros((2, 1, 2)), np.zeros((2, 1, 1))

    def running(self, x, u):
        c = self.r * self.dt
        return 0.5 * c * u[0] ** 2, np.zeros(2), c * u, np.zeros((2, 2)), np.zeros((1, 2)), np.array([[c]])

    def terminal(self, x):
        W = np.diag([self.q_theta, self.q_omega])
        e = x - self.goal
        return 0.5 * e @ W @ e, W @ e, W

    def vjp(self, x, u, v):
        fx, fu, *_ = self.derivs(x, u)
        return fx.T @ v, fu.T @ v


def rollout(problem, x0, us) -> np.ndarray:
    """States ``x_0..x_T`` of ``problem`` under the open-loop controls ``us`` (``(T, m)``)."""
    us = np.asarray(us, dtype=float)
    if us.shape != (problem.T, problem.m):
        raise ValueError(f"us must have shape (T, m) = ({problem.T}, {problem.m}); got {us.shape}")
    xs = [np.asarray(x0, dtype=float)]
    for u in us:
        xs.append(problem.step(xs[-1], u))
    return np.array(xs)


def total_cost(problem, xs, us) -> float:
    """``sum_t l(x_t, u_t) + l_T(x_T)``."""
    return float(sum(problem.running(x, u)[0] for x, u in zip(xs[:-1], us)) + problem.terminal(xs[-1])[0])


@dataclass
class DDPResult:
    """Outcome of :func:`ddp`: final controls/states, the cost and control iterates, gains and step sizes."""

    us: np.ndarray
    xs: np.ndarray
    costs: list
    controls: list
    alphas: list
    mus: list
    k: np.ndarray
    K: np.ndarray
    converged: bool


def _backward(problem, xs, us, mu, second_order):
    T, n, m = problem.T, problem.n, problem.m
    _, Vx, Vxx = problem.terminal(xs[-1])
    k = np.zeros((T, m))
    K = np.zeros((T, m, n))
    for t in range(T - 1, -1, -1):
        x, u = xs[t], us[t]
        fx, fu, fxx, fux, fuu = problem.derivs(x, u)
        _, lx, lu, lxx, lux, luu = problem.running(x, u)
        Vreg = Vxx + mu * np.eye(n)
        Qx = lx + fx.T @ Vx
        Qu = lu + fu.T @ Vx
        Qxx = lxx + fx.T @ Vxx @ fx
        Quu = luu + fu.T @ Vreg @ fu
        Qux = lux + fu.T @ Vreg @ fx
        if second_order:
            Qxx = Qxx + np.tensordot(Vx, fxx, axes=1)
            Quu = Quu + np.tensordot(Vx, fuu, axes=1)
            Qux = Qux + np.tensordot(Vx, fux, axes=1)
        Quu = 0.5 * (Quu + Quu.T)
        try:
            L = np.linalg.cholesky(Quu)
        except np.linalg.LinAlgError:
            return None
        sol = np.linalg.solve(L.T, np.linalg.solve(L, np.column_stack([Qu, Qux])))
        k[t], K[t] = -sol[:, 0], -sol[:, 1:]
        Vx = Qx + K[t].T @ Quu @ k[t] + K[t].T @ Qu + Qux.T @ k[t]
        Vxx = Qxx + K[t].T @ Quu @ K[t] + K[t].T @ Qux + Qux.T @ K[t]
        Vxx = 0.5 * (Vxx + Vxx.T)
    return k, K


def ddp(problem, x0, us0, *, second_order: bool = True, max_iter: int = 100, tol: float = 1e-14, mu0: float = 0.0, mu_min: float = 1e-6, mu_factor: float = 10.0) -> DDPResult:
    """Differential dynamic programming (``second_order=True``) or iLQR (``False``).

    Regularisation and line search after Tassa, Erez & Todorov (2012): a non-positive-definite ``Q_uu``
    or a step that does not lower the cost for any ``alpha in {1, 1/2, ..., 2^-10}`` raises ``mu``;
    a successful step lowers it (to 0 below ``mu_min``), so pure Newton-type steps are taken near the
    optimum.

    Args:
        problem: see the module docstring.
        x0: initial state ``(n,)``.
        us0: initial controls ``(T, m)``.
        second_order: include the dynamics' second derivatives (DDP) or not (iLQR).
        max_iter: maximal number of iterations.
        tol: stop when the relative cost decrease falls below ``tol``.
        mu0, mu_min, mu_factor: regularisation schedule (``mu0 >= 0``, ``mu_min > 0``, ``mu_factor > 1``).

    Returns:
        :class:`DDPResult`; ``costs[i]`` and ``controls[i]`` are the iterates (``costs[0]`` the initial cost).

    Example:
        >>> p = LQProblem(A=[[1.0]], B=[[1.0]], Q=[[1.0]], R=[[1.0]], Qf=[[1.0]], T=3)
        >>> r = ddp(p, [1.0], np.zeros((3, 1)), max_iter=1)
        >>> len(r.costs)
        2
    """
    max_iter = integer("max_iter", max_iter)
    positive("tol", tol, allow_zero=True)
    mu = positive("mu0", mu0, allow_zero=True)
    mu_min = positive("mu_min", mu_min)
    if not mu_factor > 1:
        raise ValueError(f"mu_factor must be > 1; got {mu_factor}")
    us = np.array(us0, dtype=float)
    xs = rollout(problem, x0, us)
    J = total_cost(problem, xs, us)
    costs, controls, alphas, mus = [J], [us.copy()], [], []
    converged = False
    k = K = None
    for _ in range(max_iter):
        accepted = False
        while not accepted:
            res = _backward(problem, xs, us, mu, second_order)
            if res is None:
                mu = max(mu * mu_factor, mu_min)
                if mu > 1e12:
                    break
                continue
            k, K = res
            for alpha in 2.0 ** -np.arange(11):
                x = xs[0].copy()
                new_us = np.empty_like(us)
                new_xs = [x]
                for t in range(problem.T):
                    new_us[t] = us[t] + alpha * k[t] + K[t] @ (x - xs[t])
                    x = problem.step(x, new_us[t])
                    new_xs.append(x)
                new_xs = np.array(new_xs)
                J_new = total_cost(problem, new_xs, new_us)
                if J_new < J:
                    accepted = True
                    break
            if not accepted:
                if np.max(np.abs(k)) < 1e-13 * (1 + np.max(np.abs(us))):
                    break  # stationary: no descent direction left
                mu = max(mu * mu_factor, mu_min)
                if mu > 1e12:
                    break
        if not accepted:
            converged = True
            break
        alphas.append(float(alpha))
        mus.append(float(mu))
        mu = mu / mu_factor if mu / mu_factor >= mu_min else 0.0
        rel = (J - J_new) / max(abs(J), 1e-300)
        xs, us, J = new_xs, new_us, J_new
        costs.append(J)
        controls.append(us.copy())
        if rel < tol:
            converged = True
            break
    return DDPResult(us, xs, costs, controls, alphas, mus, k, K, converged)


def first_order_step(problem, x0, us, *, lr: float):
    """One DDP iteration with every second-order term dropped and ``Q_uu = I / lr``.

    Then ``K = 0``, ``V_x = Q_x = l_x + f_x' V_x`` (the costate recursion: backpropagation) and
    ``u_t <- u_t - lr Q_u = u_t - lr dJ/du_t``. Only vector-Jacobian products ``problem.vjp(x, u, v) ->
    (f_x' v, f_u' v)`` are needed, so it applies to a neural network whose controls are its weights.
    ``problem.running(x, u)`` must return ``(l, l_x, l_u, ...)`` and ``problem.terminal(x)`` ``(l, l_x, ...)``.

    Returns:
        The updated controls (same container type as ``us``: a list of per-step controls or an array).

    Example:
        >>> p = LQProblem(A=[[1.0]], B=[[1.0]], Q=[[1.0]], R=[[1.0]], Qf=[[1.0]], T=1)
        >>> first_order_step(p, np.array([1.0]), np.zeros((1, 1)), lr=0.5).tolist()
        [[-0.5]]
    """
    lr = positive("lr", lr)
    xs = [x0]
    for u in us:
        xs.append(problem.step(xs[-1], u))
    Vx = problem.terminal(xs[-1])[1]
    new = [None] * len(us)
    for t in range(len(us) - 1, -1, -1):
        _, lx, lu = problem.running(xs[t], us[t])[:3]
        fxT_v, fuT_v = problem.vjp(xs[t], us[t], Vx)
        Qu = lu + fuT_v
        new[t] = us[t] - lr * Qu  # k = -Q_uu^{-1} Q_u with Q_uu = I / lr
        Vx = lx + fxT_v
    return np.array(new) if isinstance(us, np.ndarray) else new


def newton_step(problem, x0, us, *, second_order: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One full, unregularised DDP step (``alpha = 1``, ``mu = 0``), accepted without a cost test.

    This is the step whose local quadratic convergence the theory is about (Jacobson & Mayne 1970). The
    cost test of :func:`ddp` cannot resolve progress once ``max_t |u_t - u*_t|`` is near the square root
    of the machine precision (the cost then changes by less than its rounding), so a few such steps from
    the final :func:`ddp` iterate give a reference optimum accurate to rounding.

    Args:
        problem: see the module docstring.
        x0: initial state ``(n,)``.
        us: current controls ``(T, m)``.
        second_order: include the dynamics' second derivatives (DDP) or not (iLQR).

    Returns:
        ``(us_new, xs_new)``.

    Raises:
        ValueError: if ``Q_uu`` is not positive definite along the trajectory (no Newton step exists).

    Example:
        >>> p = LQProblem(A=[[1.0]], B=[[1.0]], Q=[[1.0]], R=[[1.0]], Qf=[[1.0]], T=1)
        >>> us, xs = newton_step(p, [1.0], np.zeros((1, 1)))
        >>> us.round(12).tolist()
        [[-0.5]]
    """
    us = np.array(us, dtype=float)
    xs = rollout(problem, x0, us)
    res = _backward(problem, xs, us, 0.0, second_order)
    if res is None:
        raise ValueError("Q_uu is not positive definite along the trajectory: no Newton step")
    k, K = res
    x = xs[0].copy()
    new_us = np.empty_like(us)
    new_xs = [x]
    for t in range(problem.T):
        new_us[t] = us[t] + k[t] + K[t] @ (x - xs[t])
        x = problem.step(x, new_us[t])
        new_xs.append(x)
    return new_us, np.array(new_xs)


def quadratic_ratios(err, alphas, mus, *, floor: float, return_index: bool = False):
    """Ratios ``e_{k+1} / e_k^2`` over the Newton phase of a DDP run.

    Quadratic convergence, ``e_{k+1} <= C e_k^2``, is a statement about full unregularised steps near the
    optimum. The phase is taken as the iterations ``k`` with ``e_k <= 1``, step ``alphas[k] == 1`` and
    regularisation ``mus[k] == 0`` and ``e_{k+1} >= floor`` (above the accuracy of the reference optimum).
    A method converging linearly at rate ``c`` has ``e_{k+1} / e_k^2 = c / e_k``, unbounded as ``e_k -> 0``.

    Args:
        err: errors ``e_0..e_K`` (``K + 1`` values, ``>= 0``).
        alphas, mus: step size and regularisation of the steps ``0..K-1`` (``K`` values each).
        floor: smallest ``e_{k+1}`` that is resolved (``> 0``).
        return_index: also return the iterations ``k`` of the phase.

    Returns:
        The ratios, in iteration order (possibly empty); with ``return_index``, ``(ratios, ks)``.

    Example:
        >>> quadratic_ratios([2.0, 0.5, 0.1, 0.005, 1e-9], [1.0] * 4, [0.0] * 4, floor=1e-6).round(12).tolist()
        [0.4, 0.5]
    """
    err = np.asarray(err, dtype=float)
    alphas = np.asarray(alphas, dtype=float)
    mus = np.asarray(mus, dtype=float)
    floor = positive("floor", floor)
    if err.ndim != 1 or np.any(~np.isfinite(err)) or np.any(err < 0):
        raise ValueError("err must be a 1-D array of finite non-negative errors")
    if alphas.shape != (err.size - 1,) or mus.shape != (err.size - 1,):
        raise ValueError(f"alphas and mus must have len(err) - 1 = {err.size - 1} entries; got {alphas.size} and {mus.size}")
    ks = [k for k in range(err.size - 1) if 0 < err[k] <= 1 and alphas[k] == 1 and mus[k] == 0 and err[k + 1] >= floor]
    ratios = np.array([err[k + 1] / err[k] ** 2 for k in ks])
    return (ratios, np.array(ks, dtype=int)) if return_index else ratios


# --------------------------------------------------------------------------------------- experiments
def _lq_instance(n: int, m: int, T: int, seed: int):
    rng = np.random.default_rng(seed)
    A = np.eye(n) + 0.1 * rng.standard_normal((n, n))
    A *= 1.05 / max(abs(np.linalg.eigvals(A)))  # open-loop unstable, spectral radius 1.05
    B = rng.standard_normal((n, m))
    Q = np.eye(n)
    R = 0.1 * np.eye(m)
    Qf = 10.0 * np.eye(n)
    x0 = rng.standard_normal(n)
    return A, B, Q, R, Qf, x0


def lq_three_ways(*, n: int = 4, m: int = 2, T: int = 50, T_long: int = 300, seed: int = 0) -> dict:
    """Solve one random LQ problem by Riccati, by the PMP linear system and by one DDP iteration.

    Also runs the Riccati recursion over ``T_long`` steps with ``Q_f = Q`` and compares ``P_0`` with the
    stationary solution of the discrete algebraic Riccati equation.

    Returns:
        dict with the three control sequences ``us_*``, states ``xs_*``, costs ``J_*``, the DP value
        ``x_0' P_0 x_0 / 2``, ``riccati_gap`` (``|P_t - P_dare|_F / |P_dare|_F`` for ``t = 0..T_long``).
    """
    n, m, T, T_long = (integer(k, v) for k, v in dict(n=n, m=m, T=T, T_long=T_long).items())
    A, B, Q, R, Qf, x0 = _lq_instance(n, m, T, seed)
    P, K = riccati(A, B, Q, R, Qf, T)
    xs_dp, us_dp = lq_rollout(A, B, K, x0)
    xs_pmp, us_pmp, lams = lq_pmp(A, B, Q, R, Qf, T, x0)
    prob = LQProblem(A=A, B=B, Q=Q, R=R, Qf=Qf, T=T)
    r = ddp(prob, x0, np.zeros((T, m)), max_iter=1)
    P_long, _ = riccati(A, B, Q, R, Q, T_long)
    P_inf = dare(A, B, Q, R)
    gap = np.linalg.norm(P_long - P_inf, axis=(1, 2)) / np.linalg.norm(P_inf)
    return {
        "us_dp": us_dp, "us_pmp": us_pmp, "us_ddp": r.us,
        "xs_dp": xs_dp, "xs_pmp": xs_pmp, "xs_ddp": r.xs,
        "J_dp": lq_cost(xs_dp, us_dp, Q, R, Qf), "J_pmp": lq_cost(xs_pmp, us_pmp, Q, R, Qf), "J_ddp": r.costs[-1],
        "V_dp": float(0.5 * x0 @ P[0] @ x0), "lam0_pmp": lams[0], "Px0": P[0] @ x0,
        "riccati_gap": gap, "spectral_radius_A": float(max(abs(np.linalg.eigvals(A)))),
    }


@figures.register(
    "control/lq-three-ways",
    caption=(
        r"Left: states and controls of a 4-state, 2-input LQ problem solved by the backward Riccati recursion "
        r"(lines), the Pontryagin linear system (circles) and one DDP iteration from zero control (crosses). "
        r"Right: distance of the finite-horizon Riccati matrix $P_t$ from the discrete algebraic Riccati "
        r"solution, against the number of steps to go."
    ),
    compute=functools.partial(lq_three_ways, seed=0),
)
def _plot_lq(d):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    T = d["us_dp"].shape[0]
    t = np.arange(T + 1)
    for i in range(d["xs_dp"].shape[1]):
        ax0.plot(t, d["xs_dp"][:, i], color=figures.PALETTE[i], lw=1.2, label="states $x_t$, Riccati" if i == 0 else None)
        ax0.plot(t[::3], d["xs_pmp"][::3, i], "o", mfc="none", ms=4, color=figures.PALETTE[i], label="PMP system" if i == 0 else None)
        ax0.plot(t[1::3], d["xs_ddp"][1::3, i], "x", ms=4, color=figures.PALETTE[i], label="one DDP step" if i == 0 else None)
    for j in range(d["us_dp"].shape[1]):
        ax0.step(t[:-1], d["us_dp"][:, j], where="post", ls="--", lw=1.0, color=figures.PALETTE[4 + j], label=f"control $u_{j + 1}$ (Riccati)")
    ax0.set(xlabel="step $t$", ylabel="state $x_t$, control $u_t$")
    ax0.legend(ncol=2)
    g = d["riccati_gap"]
    togo = np.arange(g.size - 1, -1, -1)
    ax1.semilogy(togo, np.maximum(g, 1e-17), label="finite-horizon Riccati (experiment)")
    ax1.axhline(1e-10, color="0.5", ls=":", label=r"tolerance $10^{-10}$")
    ax1.set(xlabel="steps to go $T - t$", ylabel=r"$\|P_t - P_\infty\|_F / \|P_\infty\|_F$")
    ax1.legend()
    return fig


def ddp_experiment(*, T: int = 60, dt: float = 0.05, max_iter: int = 100, n_polish: int = 2) -> dict:
    """Pendulum swing-up by DDP and by iLQR from zero torque; controls and convergence histories.

    The reference optimum ``u*`` is the final DDP iterate refined by ``n_polish`` :func:`newton_step` calls
    (the cost-based acceptance of :func:`ddp` stalls near ``sqrt(machine precision)``); ``ref_step`` is the
    size of the last refinement, an estimate of the reference's own error.

    Returns:
        dict with ``ddp``/``ilqr`` cost histories, control-error histories ``err_*`` (``max_t |u^k_t - u*_t|``),
        step sizes ``alpha_*`` and regularisations ``mu_*`` of the accepted steps, ``ref_step``, the final
        trajectory and controls.
    """
    p = Pendulum(T=integer("T", T), dt=positive("dt", dt))
    n_polish = integer("n_polish", n_polish)
    x0 = np.zeros(2)
    rd = ddp(p, x0, np.zeros((p.T, 1)), second_order=True, max_iter=max_iter, tol=0.0)
    ri = ddp(p, x0, np.zeros((p.T, 1)), second_order=False, max_iter=max_iter, tol=0.0)
    u_star = rd.us
    for _ in range(n_polish):
        u_new, _ = newton_step(p, x0, u_star)
        ref_step = float(np.max(np.abs(u_new - u_star)))
        u_star = u_new
    err = lambda r: np.array([np.max(np.abs(u - u_star)) for u in r.controls])
    return {
        "cost_ddp": np.array(rd.costs), "cost_ilqr": np.array(ri.costs),
        "err_ddp": err(rd), "err_ilqr": err(ri),
        "alpha_ddp": np.array(rd.alphas), "alpha_ilqr": np.array(ri.alphas),
        "mu_ddp": np.array(rd.mus), "mu_ilqr": np.array(ri.mus), "ref_step": ref_step,
        "xs": rd.xs, "us": rd.us, "t": np.arange(p.T + 1) * p.dt, "goal": p.goal,
    }


@figures.register(
    "control/ddp-convergence",
    caption=(
        r"Pendulum swing-up. Left: the DDP trajectory and torque from zero initial torque. Right: control "
        r"error $\max_t |u^k_t - u^*_t|$ per iteration for DDP (second-order dynamics terms, quadratic "
        r"convergence) and iLQR (Gauss-Newton, linear convergence)."
    ),
    compute=functools.partial(ddp_experiment, T=60, dt=0.05),
)
def _plot_ddp(d):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    t = d["t"]
    ax0.plot(t, d["xs"][:, 0], label=r"angle $\theta$ (rad)")
    ax0.plot(t, d["xs"][:, 1], label=r"velocity $\omega$ (rad/s)")
    ax0.step(t[:-1], d["us"][:, 0] / 10, where="post", label=r"torque $u/10$ (rad/s$^2$)")
    ax0.axhline(np.pi, color="0.5", ls=":", label=r"goal $\theta = \pi$")
    ax0.set(xlabel="time (s)", ylabel="state, control")
    ax0.legend()
    for key, lab in (("err_ddp", "DDP (experiment)"), ("err_ilqr", "iLQR (experiment)")):
        e = d[key]
        ax1.semilogy(np.arange(e.size)[e > 0], e[e > 0], "o-", ms=3, label=lab)
    ax1.set(xlabel="iteration $k$", ylabel=r"$\max_t |u^k_t - u^*_t|$")
    ax1.legend()
    return fig
