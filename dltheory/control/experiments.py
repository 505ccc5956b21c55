"""The chapter's experiments on control theory proper: costates, LQ three ways, the continuous-time
limit of the Riccati recursion, and DDP. Each returns a frozen dataclass; the figures are registered
here (the training experiments are in :mod:`dltheory.control.experiments_training`).

Every experiment takes ``scale`` (``"book"`` or ``"full"``, see :func:`dltheory.scale`); these ones
are exact computations whose size does not need to grow with the scale, so both scales run the same
sizes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks
from dltheory import figures
from dltheory.control import ddp as _ddp
from dltheory.control import lq, pmp

__all__ = [
    "CostateCheck",
    "LQThreeWays",
    "RiccatiContinuum",
    "DDPConvergence",
    "FirstOrderCheck",
    "costate_check",
    "lq_three_ways",
    "riccati_continuum",
    "ddp_convergence",
    "first_order_check",
    "SCALES",
]

#: The scales an experiment accepts.
SCALES = ("book", "full")


def _scale(scale: str) -> str:
    return checks.choice("scale", scale, SCALES)


# ----------------------------------------------------------------------------------------- costates
@dataclass(frozen=True)
class CostateCheck:
    """Costates against autograd on a residual network and a digits batch.

    Attributes:
        gap: largest relative difference, over layers, between ``-grad_theta H_t`` (hand-derived
            costates) and autograd's ``dJ/dtheta_t``
            (:func:`dltheory.control.pmp.costate_gradient_gap`).
        T, d, n_train: layers, width and batch size.
    """

    gap: float
    T: int
    d: int
    n_train: int


def costate_check(*, scale: str = "book", seed: int = 0) -> CostateCheck:
    """Hand-derived costate gradients against autograd (float64), on the 1257 training digits.

    Example:
        >>> costate_check().gap < 1e-10
        True
    """
    _scale(scale)
    x, y, _, _ = pmp.digits_data(seed=checks.seed(seed))
    T, d = 6, x.shape[1]
    model = pmp.ResNetControl(C=pmp.readout(K=10, d=d, seed=seed), h=0.25, lam=1e-3)
    W, _ = pmp.init_params(T=T, d=d, scale=1.0, seed=seed + 1)
    b = 0.1 * torch.randn(
        T, d, generator=torch.Generator().manual_seed(seed + 2), dtype=torch.float64
    )
    return CostateCheck(
        gap=pmp.costate_gradient_gap(model, W, b, x, y), T=T, d=d, n_train=x.shape[0]
    )


# ------------------------------------------------------------------------------------ LQ three ways
@dataclass(frozen=True)
class LQThreeWays:
    """One random LQ problem solved by Riccati (DP), the PMP linear system and one DDP step.

    Attributes:
        us_dp, us_pmp, us_ddp: controls ``(T, m)``; xs_dp, xs_pmp, xs_ddp: states ``(T + 1, n)``.
        J_dp, J_pmp, J_ddp: costs of the three solutions; V_dp: the DP value ``x_0' P_0 x_0 / 2``.
        lam0_pmp: the PMP costate ``lambda_0``; Px0: the value gradient ``P_0 x_0``.
        riccati_gap: ``|P_t - P_dare|_F / |P_dare|_F`` for ``t = 0..T_long`` (``Q_f = Q``).
        open_loop_gap: the same gap at ``t = 0`` for the recursion without its feedback term,
            ``P_t = Q + A' P_{t+1} A`` (a Lyapunov recursion, which diverges for unstable ``A``).
        spectral_radius_A: of the open-loop dynamics.
        closed_loop_radius: spectral radius of ``A - B K_dare`` (the stationary feedback).
    """

    us_dp: np.ndarray
    us_pmp: np.ndarray
    us_ddp: np.ndarray
    xs_dp: np.ndarray
    xs_pmp: np.ndarray
    xs_ddp: np.ndarray
    J_dp: float
    J_pmp: float
    J_ddp: float
    V_dp: float
    lam0_pmp: np.ndarray
    Px0: np.ndarray
    riccati_gap: np.ndarray
    open_loop_gap: float
    spectral_radius_A: float
    closed_loop_radius: float

    @property
    def riccati_rate(self) -> float:
        """Per-step contraction of ``riccati_gap``: ``exp`` of the least-squares slope of its log.

        The fit uses the gaps between ``1e-13`` (above rounding) and ``1e-3`` (where the recursion
        is linear in ``P_t - P_dare``); the linearised recursion predicts
        ``closed_loop_radius ** 2``.
        """
        g = self.riccati_gap[::-1]  # index = steps to go
        k = np.arange(g.size)
        w = (g > 1e-13) & (g < 1e-3)
        if w.sum() < 3:
            return float("nan")
        return float(np.exp(np.polyfit(k[w], np.log(g[w]), 1)[0]))


def _lq_instance(n: int, m: int, seed: int):
    rng = np.random.default_rng(seed)
    A = np.eye(n) + 0.1 * rng.standard_normal((n, n))
    A *= 1.05 / max(abs(np.linalg.eigvals(A)))  # open-loop unstable, spectral radius 1.05
    B = rng.standard_normal((n, m))
    Q = np.eye(n)
    R = 0.1 * np.eye(m)
    Qf = 10.0 * np.eye(n)
    x0 = rng.standard_normal(n)
    return A, B, Q, R, Qf, x0


def lq_three_ways(
    *, scale: str = "book", n: int = 4, m: int = 2, T: int = 50, T_long: int = 300, seed: int = 0
) -> LQThreeWays:
    """Solve one random LQ problem by Riccati, by the PMP linear system and by one DDP iteration.

    Also runs the Riccati recursion over ``T_long`` steps with ``Q_f = Q`` and compares ``P_t`` with
    the stationary solution of the discrete algebraic Riccati equation.

    Example:
        >>> r = lq_three_ways(n=2, m=1, T=5, T_long=50)
        >>> bool(abs(r.J_pmp - r.J_dp) < 1e-10 * r.J_dp)
        True
    """
    _scale(scale)
    n, m = checks.integer("n", n, high=200), checks.integer("m", m, high=200)
    T, T_long = checks.integer("T", T, high=100_000), checks.integer("T_long", T_long, high=100_000)
    A, B, Q, R, Qf, x0 = _lq_instance(n, m, checks.seed(seed))
    P, K = lq.riccati(A, B, Q, R, Qf, T)
    xs_dp, us_dp = lq.lq_rollout(A, B, K, x0)
    xs_pmp, us_pmp, lams = lq.lq_pmp(A, B, Q, R, Qf, T, x0)
    r = _ddp.ddp(_ddp.LQProblem(A=A, B=B, Q=Q, R=R, Qf=Qf, T=T), x0, np.zeros((T, m)), max_iter=1)
    P_long, _ = lq.riccati(A, B, Q, R, Q, T_long)
    P_inf = lq.dare(A, B, Q, R)
    K_inf = np.linalg.solve(R + B.T @ P_inf @ B, B.T @ P_inf @ A)
    P_open = Q.copy()
    for _ in range(T_long):
        P_open = Q + A.T @ P_open @ A
    return LQThreeWays(
        us_dp=us_dp,
        us_pmp=us_pmp,
        us_ddp=r.us,
        xs_dp=xs_dp,
        xs_pmp=xs_pmp,
        xs_ddp=r.xs,
        J_dp=lq.lq_cost(xs_dp, us_dp, Q, R, Qf),
        J_pmp=lq.lq_cost(xs_pmp, us_pmp, Q, R, Qf),
        J_ddp=float(r.costs[-1]),
        V_dp=float(0.5 * x0 @ P[0] @ x0),
        lam0_pmp=lams[0],
        Px0=P[0] @ x0,
        riccati_gap=np.linalg.norm(P_long - P_inf, axis=(1, 2)) / np.linalg.norm(P_inf),
        open_loop_gap=float(np.linalg.norm(P_open - P_inf) / np.linalg.norm(P_inf)),
        spectral_radius_A=float(max(abs(np.linalg.eigvals(A)))),
        closed_loop_radius=float(max(abs(np.linalg.eigvals(A - B @ K_inf)))),
    )


@figures.register("control/lq-three-ways", compute=functools.partial(lq_three_ways, scale="book"))
def _plot_lq(d: LQThreeWays):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    T = d.us_dp.shape[0]
    t = np.arange(T + 1)
    P = figures.PALETTE
    for i in range(d.xs_dp.shape[1]):
        first = i == 0
        ax0.plot(
            t, d.xs_dp[:, i], color=P[i], lw=1.2, label="states $x_t$, Riccati" if first else None
        )
        ax0.plot(
            t[::3],
            d.xs_pmp[::3, i],
            "o",
            mfc="none",
            ms=4,
            color=P[i],
            label="PMP system" if first else None,
        )
        ax0.plot(
            t[1::3],
            d.xs_ddp[1::3, i],
            "x",
            ms=4,
            color=P[i],
            label="one DDP step" if first else None,
        )
    for j in range(d.us_dp.shape[1]):
        ax0.step(
            t[:-1],
            d.us_dp[:, j],
            where="post",
            ls="--",
            lw=1.0,
            color=P[4 + j],
            label=f"control $u_{j + 1}$ (Riccati)",
        )
    ax0.set(xlabel="step $t$", ylabel="state $x_t$, control $u_t$")
    ax0.legend(ncol=2)
    g = d.riccati_gap
    togo = np.arange(g.size - 1, -1, -1)
    ax1.semilogy(togo, np.maximum(g, 1e-17), label="finite-horizon Riccati (experiment)")
    ax1.axhline(1e-10, color="0.5", ls=":", label=r"tolerance $10^{-10}$")
    ax1.set(xlabel="steps to go $T - t$", ylabel=r"$\|P_t - P_\infty\|_F / \|P_\infty\|_F$")
    ax1.legend()
    return fig


# --------------------------------------------------------------------- continuous time: HJB/Riccati
@dataclass(frozen=True)
class RiccatiContinuum:
    """Discrete Riccati recursion of the Euler-discretised problem against the Riccati ODE.

    Attributes:
        hs: time steps ``h`` (``t_end / h`` Bellman steps each).
        errors: ``|P^h_0 - P(0)|_F / |P(0)|_F``, one per ``h``.
        slope: least-squares slope of ``log(error)`` against ``log(h)`` over the ``n_fit`` smallest
            ``h`` (1 for a first-order discretisation).
        n_fit: how many of the smallest ``h`` the slope uses.
        t_end: the horizon.
        P0: the continuous-time ``P(0)`` (solve_ivp, DOP853, rtol 1e-11).
    """

    hs: np.ndarray
    errors: np.ndarray
    slope: float
    n_fit: int
    t_end: float
    P0: np.ndarray

    @property
    def richardson_slope(self) -> float:
        """Log-log slope of ``|2 e(h/2) - e(h)|`` against ``h`` over the ``n_fit - 1`` smallest
        ``h``.

        With ``e(h) = c_1 h + c_2 h^2 + O(h^3)`` the Richardson combination cancels the first-order
        term and leaves ``-c_2 h^2 / 2``: slope 2.
        """
        e = self.errors
        r = np.abs(2 * e[1:] - e[:-1])
        n = max(2, self.n_fit - 1)
        return float(np.polyfit(np.log(self.hs[:-1][-n:]), np.log(r[-n:]), 1)[0])


def riccati_continuum(
    *,
    scale: str = "book",
    n: int = 3,
    m: int = 2,
    t_end: float = 2.0,
    n_h: int = 6,
    n_fit: int = 4,
    seed: int = 0,
) -> RiccatiContinuum:
    """Convergence of the discrete Bellman/Riccati recursion to the continuous Riccati (HJB)
    solution.

    A random continuous-time problem (``A`` with entries ``N(0, 1/4)``, ``Q = I``, ``R = I/2``,
    ``Q_f = 2 I``) is discretised by explicit Euler with ``h = 0.2 / 2^k``, ``k = 0..n_h-1``.

    Example:
        >>> r = riccati_continuum(n_h=3, n_fit=2)
        >>> r.errors.shape, bool(0.8 < r.slope < 1.2)
        ((3,), True)
    """
    _scale(scale)
    n, m = checks.integer("n", n, high=200), checks.integer("m", m, high=200)
    t_end = checks.positive("t_end", t_end)
    n_h = checks.integer("n_h", n_h, low=2, high=16)
    n_fit = checks.integer("n_fit", n_fit, low=2, high=n_h)
    rng = np.random.default_rng(checks.seed(seed))
    A = 0.5 * rng.standard_normal((n, n))
    B = rng.standard_normal((n, m))
    Q, R, Qf = np.eye(n), 0.5 * np.eye(m), 2.0 * np.eye(n)
    P0 = lq.riccati_ode(A, B, Q, R, Qf, t_end=t_end)
    hs = 0.2 / 2.0 ** np.arange(n_h)
    errs = []
    for h in hs:
        Ad, Bd, Qd, Rd = lq.euler_lq(A, B, Q, R, h=float(h))
        P, _ = lq.riccati(Ad, Bd, Qd, Rd, Qf, int(round(t_end / h)))
        errs.append(np.linalg.norm(P[0] - P0) / np.linalg.norm(P0))
    errs = np.array(errs)
    slope = float(np.polyfit(np.log(hs[-n_fit:]), np.log(errs[-n_fit:]), 1)[0])
    return RiccatiContinuum(hs=hs, errors=errs, slope=slope, n_fit=n_fit, t_end=t_end, P0=P0)


@figures.register(
    "control/riccati-continuum", compute=functools.partial(riccati_continuum, scale="book")
)
def _plot_riccati_continuum(d: RiccatiContinuum):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    ax.loglog(d.hs, d.errors, "o-", label="discrete Riccati recursion (experiment)")
    ref = d.errors[-1] * d.hs / d.hs[-1]
    ax.loglog(d.hs, ref, "k--", lw=1.0, label=r"order 1: $\propto h$ (theory)")
    ax.set(xlabel="time step $h$", ylabel=r"$\|P^h_0 - P(0)\|_F / \|P(0)\|_F$")
    ax.legend()
    return fig


# ---------------------------------------------------------------------------------------------- DDP
@dataclass(frozen=True)
class DDPConvergence:
    """Pendulum swing-up by DDP and iLQR from zero torque.

    Attributes:
        cost_ddp, cost_ilqr: cost per accepted iterate.
        err_ddp, err_ilqr: control errors ``max_t |u^k_t - u*_t|`` per iterate.
        alpha_ddp, alpha_ilqr, mu_ddp, mu_ilqr: line-search step and regularisation per accepted
        step. predicted_ddp, actual_ddp: cost reduction predicted by DDP's quadratic model and
        measured,
            per accepted DDP step; predicted_ilqr, actual_ilqr: the same for iLQR.
        rejected_ddp: trial steps DDP rejected.
        ref_step: size of the last Newton refinement of the reference ``u*`` (its own error).
        xs, us: the final DDP trajectory and torque; t: times; goal: the target state.
    """

    cost_ddp: np.ndarray
    cost_ilqr: np.ndarray
    err_ddp: np.ndarray
    err_ilqr: np.ndarray
    alpha_ddp: np.ndarray
    alpha_ilqr: np.ndarray
    mu_ddp: np.ndarray
    mu_ilqr: np.ndarray
    predicted_ddp: np.ndarray
    actual_ddp: np.ndarray
    predicted_ilqr: np.ndarray
    actual_ilqr: np.ndarray
    rejected_ddp: int
    ref_step: float
    xs: np.ndarray
    us: np.ndarray
    t: np.ndarray
    goal: np.ndarray


def ddp_convergence(
    *, scale: str = "book", T: int = 60, dt: float = 0.05, max_iter: int = 100, n_polish: int = 2
) -> DDPConvergence:
    """Pendulum swing-up by DDP and by iLQR from zero torque; controls and convergence histories.

    The reference optimum ``u*`` is the final DDP iterate refined by ``n_polish`` Newton steps
    without the cost test (:func:`dltheory.control.ddp.newton_step`); ``ref_step`` is the last
    refinement.

    Example:
        >>> r = ddp_convergence(T=20, max_iter=30)
        >>> bool(r.cost_ddp[-1] < r.cost_ddp[0])
        True
    """
    _scale(scale)
    p = _ddp.Pendulum(T=T, dt=dt)
    n_polish = checks.integer("n_polish", n_polish, high=100)
    x0 = np.zeros(2)
    rd = _ddp.ddp(p, x0, np.zeros((p.T, 1)), second_order=True, max_iter=max_iter, tol=0.0)
    ri = _ddp.ddp(p, x0, np.zeros((p.T, 1)), second_order=False, max_iter=max_iter, tol=0.0)
    u_star = rd.us
    for _ in range(n_polish):
        u_new, _ = _ddp.newton_step(p, x0, u_star)
        ref_step = float(np.max(np.abs(u_new - u_star)))
        u_star = u_new

    def err(r):
        return np.abs(r.controls - u_star).max(axis=(1, 2))

    return DDPConvergence(
        cost_ddp=rd.costs,
        cost_ilqr=ri.costs,
        err_ddp=err(rd),
        err_ilqr=err(ri),
        alpha_ddp=rd.alphas,
        alpha_ilqr=ri.alphas,
        mu_ddp=rd.mus,
        mu_ilqr=ri.mus,
        predicted_ddp=rd.predicted,
        actual_ddp=rd.actual,
        predicted_ilqr=ri.predicted,
        actual_ilqr=ri.actual,
        rejected_ddp=rd.rejected,
        ref_step=ref_step,
        xs=rd.xs,
        us=rd.us,
        t=np.arange(p.T + 1) * p.dt,
        goal=p.goal,
    )


@figures.register(
    "control/ddp-convergence", compute=functools.partial(ddp_convergence, scale="book")
)
def _plot_ddp(d: DDPConvergence):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    t = d.t
    ax0.plot(t, d.xs[:, 0], label=r"angle $\theta$ (rad)")
    ax0.plot(t, d.xs[:, 1], label=r"velocity $\omega$ (rad/s)")
    ax0.step(t[:-1], d.us[:, 0] / 10, where="post", label=r"torque $u/10$ (rad/s$^2$)")
    ax0.axhline(np.pi, color="0.5", ls=":", label=r"goal $\theta = \pi$")
    ax0.set(xlabel="time (s)", ylabel="state, control")
    ax0.legend()
    for e, lab in ((d.err_ddp, "DDP (experiment)"), (d.err_ilqr, "iLQR (experiment)")):
        ax1.semilogy(np.arange(e.size)[e > 0], e[e > 0], "o-", ms=3, label=lab)
    ax1.set(xlabel="iteration $k$", ylabel=r"$\max_t |u^k_t - u^*_t|$")
    ax1.legend()
    return fig


@dataclass(frozen=True)
class FirstOrderCheck:
    """First-order DDP (``Q_uu = I / lr``, no second-order terms) against finite differences.

    Attributes:
        gap: ``max |(u - u_new)/lr - g_fd| / max |g_fd|`` with ``g_fd`` the central
            finite-difference gradient of the cost in every control.
        eps: the finite-difference step.
        T: horizon of the pendulum problem.
    """

    gap: float
    eps: float
    T: int


def first_order_check(
    *, scale: str = "book", T: int = 30, lr: float = 0.3, eps: float = 1e-5, seed: int = 0
) -> FirstOrderCheck:
    """Check that one first-order DDP step on the pendulum is a gradient step, by finite
    differences.

    The controls are random (``N(0, 1)``); ``g_fd`` perturbs each control by ``+-eps`` and reruns
    the dynamics, independently of the costate recursion
    that :func:`dltheory.control.ddp.first_order_step` uses. Central differences have error
    ``O(eps^2)`` plus rounding ``O(machine eps / eps)``.

    Example:
        >>> first_order_check(T=5).gap < 1e-6
        True
    """
    _scale(scale)
    p = _ddp.Pendulum(T=T)
    lr = checks.positive("lr", lr)
    eps = checks.real("eps", eps, low=1e-10, high=1e-2)
    x0 = np.array([0.3, 0.0])
    us = np.random.default_rng(checks.seed(seed)).standard_normal((p.T, 1))

    def J(u):
        return _ddp.total_cost(p, _ddp.rollout(p, x0, u), u)

    g_fd = np.zeros_like(us)
    for t in range(p.T):
        e = np.zeros_like(us)
        e[t, 0] = eps
        g_fd[t, 0] = (J(us + e) - J(us - e)) / (2 * eps)
    g_ddp = (us - _ddp.first_order_step(p, x0, us, lr=lr)) / lr
    return FirstOrderCheck(
        gap=float(np.abs(g_ddp - g_fd).max() / np.abs(g_fd).max()), eps=eps, T=p.T
    )
