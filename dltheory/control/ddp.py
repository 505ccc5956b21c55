"""Differential dynamic programming (Jacobson & Mayne 1970) and iLQR, with Tassa-style
regularisation.

A problem is an object with ``n``, ``m``, ``T`` and the methods

* ``step(x, u) -> x_next`` and ``derivs(x, u) -> (f_x, f_u, f_xx, f_ux, f_uu)`` with shapes
  ``(n, n), (n, m), (n, n, n), (n, m, n), (n, m, m)`` (first index: the output component);
* ``running(x, u) -> (l, l_x, l_u, l_xx, l_ux, l_uu)`` and ``terminal(x) -> (l, l_x, l_xx)``.

Backward pass (``V_x``, ``V_xx`` at ``t + 1``; ``mu`` the regularisation of Tassa, Erez & Todorov
2012)::

    Q_x  = l_x + f_x' V_x                   Q_u  = l_u + f_u' V_x
    Q_xx = l_xx + f_x' V_xx f_x + V_x . f_xx
    Q_uu = l_uu + f_u' (V_xx + mu I) f_u + V_x . f_uu
    Q_ux = l_ux + f_u' (V_xx + mu I) f_x + V_x . f_ux
    k = -Q_uu^{-1} Q_u,  K = -Q_uu^{-1} Q_ux

The terms ``V_x . f_..`` (second derivatives of the dynamics) make it DDP, with quadratic
convergence near a nondegenerate optimum; without them it is iLQR (Gauss-Newton). Dropping every
second-order term and setting ``Q_uu = I / eta`` leaves ``V_x = Q_x`` (the costate recursion, i.e.
backpropagation) and ``k = -eta dJ/du``: a gradient-descent step (:func:`first_order_step`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dltheory import _checks as checks
from dltheory.control.lq import check_lq

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
    "model_agreement",
]


def _check_problem(problem, *methods, sizes=True):
    for attr in (("n", "m", "T") if sizes else ()) + methods:
        if not hasattr(problem, attr):
            raise TypeError(
                f"problem must provide {attr!r} (see the module docstring); "
                f"{type(problem).__name__} does not"
            )


def _check_x0_us(problem, x0, us, us_name="us0"):
    x0 = checks.real_array("x0", x0, ndim=1)
    if x0.shape != (problem.n,):
        raise ValueError(f"x0 must have shape (n,) = ({problem.n},); got {x0.shape}")
    us = checks.real_array(us_name, us, ndim=2)
    if us.shape != (problem.T, problem.m):
        raise ValueError(
            f"{us_name} must have shape (T, m) = ({problem.T}, {problem.m}); got {us.shape}"
        )
    return x0, us


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
        object.__setattr__(self, "T", checks.integer("T", self.T, high=10_000_000))

    n = property(lambda self: self.A.shape[0])
    m = property(lambda self: self.B.shape[1])

    def step(self, x, u):
        return self.A @ x + self.B @ u

    def derivs(self, x, u):
        n, m = self.n, self.m
        return self.A, self.B, np.zeros((n, n, n)), np.zeros((n, m, n)), np.zeros((n, m, m))

    def running(self, x, u):
        return (
            0.5 * (x @ self.Q @ x + u @ self.R @ u),
            self.Q @ x,
            self.R @ u,
            self.Q,
            np.zeros((self.m, self.n)),
            self.R,
        )

    def terminal(self, x):
        return 0.5 * x @ self.Qf @ x, self.Qf @ x, self.Qf

    def vjp(self, x, u, v):
        return self.A.T @ v, self.B.T @ v


@dataclass(frozen=True)
class Pendulum:
    """Damped pendulum swing-up, explicit Euler with step ``dt``: state ``(theta, omega)``,
    ``theta = 0`` down.

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
        object.__setattr__(self, "T", checks.integer("T", self.T, high=10_000_000))
        for k in ("dt", "g_over_l", "r", "q_theta", "q_omega"):
            object.__setattr__(self, k, checks.positive(k, getattr(self, k)))
        object.__setattr__(
            self, "damping", checks.positive("damping", self.damping, allow_zero=True)
        )

    n = 2
    m = 1

    @property
    def goal(self):
        return np.array([np.pi, 0.0])

    def step(self, x, u):
        th, om = x
        return np.array(
            [
                th + self.dt * om,
                om + self.dt * (-self.g_over_l * np.sin(th) - self.damping * om + u[0]),
            ]
        )

    def derivs(self, x, u):
        dt, th = self.dt, x[0]
        fx = np.array([[1.0, dt], [-dt * self.g_over_l * np.cos(th), 1.0 - dt * self.damping]])
        fu = np.array([[0.0], [dt]])
        fxx = np.zeros((2, 2, 2))
        fxx[1, 0, 0] = dt * self.g_over_l * np.sin(th)
        return fx, fu, fxx, np.zeros((2, 1, 2)), np.zeros((2, 1, 1))

    def running(self, x, u):
        c = self.r * self.dt
        return (
            0.5 * c * u[0] ** 2,
            np.zeros(2),
            c * u,
            np.zeros((2, 2)),
            np.zeros((1, 2)),
            np.array([[c]]),
        )

    def terminal(self, x):
        W = np.diag([self.q_theta, self.q_omega])
        e = x - self.goal
        return 0.5 * e @ W @ e, W @ e, W

    def vjp(self, x, u, v):
        fx, fu, *_ = self.derivs(x, u)
        return fx.T @ v, fu.T @ v


def rollout(problem, x0, us) -> np.ndarray:
    """States ``x_0..x_T`` of ``problem`` under the open-loop controls ``us`` (``(T, m)``).

    Example:
        >>> rollout(Pendulum(T=2), [0.0, 1.0], [[0.0], [0.0]]).shape
        (3, 2)
    """
    _check_problem(problem, "step")
    x0, us = _check_x0_us(problem, x0, us, "us")
    return _rollout(problem, x0, us)


def _rollout(problem, x0, us):
    xs = [x0]
    for u in us:
        xs.append(problem.step(xs[-1], u))
    return np.array(xs)


def total_cost(problem, xs, us) -> float:
    """``sum_t l(x_t, u_t) + l_T(x_T)``.

    Example:
        >>> p = LQProblem(A=[[1.0]], B=[[1.0]], Q=[[1.0]], R=[[1.0]], Qf=[[1.0]], T=1)
        >>> round(total_cost(p, [[1.0], [1.0]], [[0.0]]), 6)
        1.0
    """
    _check_problem(problem, "running", "terminal")
    xs = checks.real_array("xs", xs, ndim=2, allow_inf=True)
    us = checks.real_array("us", us, ndim=2)
    if xs.shape != (problem.T + 1, problem.n) or us.shape != (problem.T, problem.m):
        raise ValueError(
            f"xs and us must have shapes (T + 1, n) = ({problem.T + 1}, {problem.n}) and "
            f"(T, m) = ({problem.T}, {problem.m}); got {xs.shape} and {us.shape}"
        )
    return _total_cost(problem, xs, us)


def _total_cost(problem, xs, us) -> float:
    return float(
        sum(problem.running(x, u)[0] for x, u in zip(xs[:-1], us, strict=False))
        + problem.terminal(xs[-1])[0]
    )


@dataclass(frozen=True)
class DDPResult:
    """Outcome of :func:`ddp`.

    Attributes:
        us, xs: final controls ``(T, m)`` and states ``(T + 1, n)``.
        costs: cost of each iterate, ``(n_accepted + 1,)`` (``costs[0]``: the initial controls).
        controls: the control iterates, ``(n_accepted + 1, T, m)``.
        alphas, mus: line-search step and regularisation of each accepted step, ``(n_accepted,)``.
        predicted: reduction of the cost that the quadratic model predicts for each accepted step,
            ``-(alpha sum_t k_t' Q_u + alpha^2 / 2 sum_t k_t' Q_uu k_t)``.
        actual: the reduction measured, ``costs[:-1] - costs[1:]``.
        rejected: trial steps rejected (line-search failures and non-positive-definite ``Q_uu``).
        k, K: feed-forward terms and feedback gains of the last backward pass.
        converged: stopped by ``tol`` or for lack of a descent step, not by ``max_iter``.
    """

    us: np.ndarray
    xs: np.ndarray
    costs: np.ndarray
    controls: np.ndarray
    alphas: np.ndarray
    mus: np.ndarray
    predicted: np.ndarray
    actual: np.ndarray
    rejected: int
    k: np.ndarray
    K: np.ndarray
    converged: bool


def _backward(problem, xs, us, mu, second_order):
    T, n, m = problem.T, problem.n, problem.m
    _, Vx, Vxx = problem.terminal(xs[-1])
    k = np.zeros((T, m))
    K = np.zeros((T, m, n))
    dV1 = dV2 = 0.0
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
        dV1 += float(k[t] @ Qu)
        dV2 += 0.5 * float(k[t] @ Quu @ k[t])
        Vx = Qx + K[t].T @ Quu @ k[t] + K[t].T @ Qu + Qux.T @ k[t]
        Vxx = Qxx + K[t].T @ Quu @ K[t] + K[t].T @ Qux + Qux.T @ K[t]
        Vxx = 0.5 * (Vxx + Vxx.T)
    return k, K, dV1, dV2


def ddp(
    problem,
    x0,
    us0,
    *,
    second_order: bool = True,
    max_iter: int = 100,
    tol: float = 1e-14,
    mu0: float = 0.0,
    mu_min: float = 1e-6,
    mu_factor: float = 10.0,
) -> DDPResult:
    """Differential dynamic programming (``second_order=True``) or iLQR (``False``).

    Regularisation and line search after Tassa, Erez & Todorov (2012): a non-positive-definite
    ``Q_uu`` or a step that does not lower the cost for any ``alpha in {1, 1/2, ..., 2^-10}`` raises
    ``mu``; a successful step lowers it (to 0 below ``mu_min``), so pure Newton-type steps are taken
    near the optimum.

    Args:
        problem: see the module docstring.
        x0: initial state ``(n,)``.
        us0: initial controls ``(T, m)``.
        second_order: include the dynamics' second derivatives (DDP) or not (iLQR).
        max_iter: maximal number of iterations.
        tol: stop when the relative cost decrease falls below ``tol``.
        mu0, mu_min, mu_factor: regularisation schedule (``mu0 >= 0``, ``mu_min > 0``,
        ``mu_factor > 1``).

    Returns:
        :class:`DDPResult`; ``costs[i]`` and ``controls[i]`` are the iterates (``costs[0]`` the
        initial cost).

    Example:
        >>> p = LQProblem(A=[[1.0]], B=[[1.0]], Q=[[1.0]], R=[[1.0]], Qf=[[1.0]], T=3)
        >>> r = ddp(p, [1.0], np.zeros((3, 1)), max_iter=1)
        >>> len(r.costs)
        2
    """
    _check_problem(problem, "step", "derivs", "running", "terminal")
    x0, us = _check_x0_us(problem, x0, us0)
    second_order = checks.boolean("second_order", second_order)
    max_iter = checks.integer("max_iter", max_iter, high=1_000_000)
    checks.positive("tol", tol, allow_zero=True)
    mu = checks.positive("mu0", mu0, allow_zero=True)
    mu_min = checks.positive("mu_min", mu_min)
    mu_factor = checks.real("mu_factor", mu_factor, low=1.0, low_open=True)
    xs = _rollout(problem, x0, us)
    J = _total_cost(problem, xs, us)
    if not np.isfinite(J):
        raise ValueError(
            f"the cost of the initial controls is not finite ({J}); DDP needs a finite start"
        )
    costs, controls, alphas, mus, predicted = [J], [us.copy()], [], [], []
    rejected = 0
    converged = False
    k = K = None
    for _ in range(max_iter):
        accepted = False
        while not accepted:
            res = _backward(problem, xs, us, mu, second_order)
            if res is None:
                rejected += 1
                mu = max(mu * mu_factor, mu_min)
                if mu > 1e12:
                    break
                continue
            k, K, dV1, dV2 = res
            for alpha in 2.0 ** -np.arange(11):
                x = xs[0].copy()
                new_us = np.empty_like(us)
                new_xs = [x]
                for t in range(problem.T):
                    new_us[t] = us[t] + alpha * k[t] + K[t] @ (x - xs[t])
                    x = problem.step(x, new_us[t])
                    new_xs.append(x)
                new_xs = np.array(new_xs)
                J_new = _total_cost(problem, new_xs, new_us)
                if J_new < J:
                    accepted = True
                    break
                rejected += 1
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
        predicted.append(-(alpha * dV1 + alpha**2 * dV2))
        mu = mu / mu_factor if mu / mu_factor >= mu_min else 0.0
        rel = (J - J_new) / max(abs(J), 1e-300)
        xs, us, J = new_xs, new_us, J_new
        costs.append(J)
        controls.append(us.copy())
        if rel < tol:
            converged = True
            break
    costs = np.array(costs)
    return DDPResult(
        us=us,
        xs=xs,
        costs=costs,
        controls=np.array(controls),
        alphas=np.array(alphas),
        mus=np.array(mus),
        predicted=np.array(predicted),
        actual=costs[:-1] - costs[1:],
        rejected=rejected,
        k=k,
        K=K,
        converged=converged,
    )


def first_order_step(problem, x0, us, *, lr: float):
    """One DDP iteration with every second-order term dropped and ``Q_uu = I / lr``.

    Then ``K = 0``, ``V_x = Q_x = l_x + f_x' V_x`` (the costate recursion: backpropagation) and
    ``u_t <- u_t - lr Q_u = u_t - lr dJ/du_t``. Only vector-Jacobian products
    ``problem.vjp(x, u, v) -> (f_x' v, f_u' v)`` are needed, so it applies to a neural network whose
    controls are its weights. ``problem.running(x, u)`` must return ``(l, l_x, l_u, ...)`` and
    ``problem.terminal(x)`` ``(l, l_x, ...)``.

    Returns:
        The updated controls (same container type as ``us``: a list of per-step controls or an
        array).

    Example:
        >>> p = LQProblem(A=[[1.0]], B=[[1.0]], Q=[[1.0]], R=[[1.0]], Qf=[[1.0]], T=1)
        >>> first_order_step(p, np.array([1.0]), np.zeros((1, 1)), lr=0.5).round(6).tolist()
        [[-0.5]]
    """
    _check_problem(problem, "step", "running", "terminal", "vjp", sizes=isinstance(us, np.ndarray))
    lr = checks.positive("lr", lr)
    if isinstance(us, np.ndarray):
        x0, us = _check_x0_us(problem, x0, us, "us")
    elif not isinstance(us, (list, tuple)):
        raise TypeError(
            f"us must be a numpy array (T, m) or a list of T controls; got {type(us).__name__}"
        )
    elif len(us) == 0:
        raise ValueError("us must hold at least one control")
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

    This is the step whose local quadratic convergence the theory is about (Jacobson & Mayne 1970).
    The cost test of :func:`ddp` cannot resolve progress once ``max_t |u_t - u*_t|`` is near the
    square root of the machine precision (the cost then changes by less than its rounding), so a few
    such steps from the final :func:`ddp` iterate give a reference optimum accurate to rounding.

    Args:
        problem: see the module docstring.
        x0: initial state ``(n,)``.
        us: current controls ``(T, m)``.
        second_order: include the dynamics' second derivatives (DDP) or not (iLQR).

    Returns:
        ``(us_new, xs_new)``.

    Raises:
        ValueError: if ``Q_uu`` is not positive definite along the trajectory (no Newton step
        exists).

    Example:
        >>> p = LQProblem(A=[[1.0]], B=[[1.0]], Q=[[1.0]], R=[[1.0]], Qf=[[1.0]], T=1)
        >>> us, xs = newton_step(p, [1.0], np.zeros((1, 1)))
        >>> us.round(12).tolist()
        [[-0.5]]
    """
    _check_problem(problem, "step", "derivs", "running", "terminal")
    x0, us = _check_x0_us(problem, x0, us, "us")
    second_order = checks.boolean("second_order", second_order)
    xs = _rollout(problem, x0, us)
    res = _backward(problem, xs, us, 0.0, second_order)
    if res is None:
        raise ValueError("Q_uu is not positive definite along the trajectory: no Newton step")
    k, K, _, _ = res
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

    Quadratic convergence, ``e_{k+1} <= C e_k^2``, is a statement about full unregularised steps
    near the optimum. The phase is taken as the iterations ``k`` with ``e_k <= 1``, step
    ``alphas[k] == 1`` and regularisation ``mus[k] == 0`` and ``e_{k+1} >= floor`` (above the
    accuracy of the reference optimum). A method converging linearly at rate ``c`` has
    ``e_{k+1} / e_k^2 = c / e_k``, unbounded as ``e_k -> 0``.

    Args:
        err: errors ``e_0..e_K`` (``K + 1`` values, ``>= 0``).
        alphas, mus: step size and regularisation of the steps ``0..K-1`` (``K`` values each).
        floor: smallest ``e_{k+1}`` that is resolved (``> 0``).
        return_index: also return the iterations ``k`` of the phase.

    Returns:
        The ratios, in iteration order (possibly empty); with ``return_index``, ``(ratios, ks)``.

    Example:
        >>> quadratic_ratios([2.0, 0.5, 0.1, 0.005, 1e-9], [1.0] * 4, [0.0] * 4, floor=1e-6).round(
        ...     12
        ... ).tolist()
        [0.4, 0.5]
    """
    err = checks.real_array("err", err, ndim=1)
    if np.any(err < 0):
        raise ValueError("err must be a 1-D array of finite non-negative errors")
    alphas = checks.real_array("alphas", alphas, ndim=1)
    mus = checks.real_array("mus", mus, ndim=1)
    floor = checks.positive("floor", floor)
    return_index = checks.boolean("return_index", return_index)
    if alphas.shape != (err.size - 1,) or mus.shape != (err.size - 1,):
        raise ValueError(
            f"alphas and mus must have len(err) - 1 = {err.size - 1} entries; got "
            f"{alphas.size} and {mus.size}"
        )
    ks = [
        k
        for k in range(err.size - 1)
        if 0 < err[k] <= 1 and alphas[k] == 1 and mus[k] == 0 and err[k + 1] >= floor
    ]
    ratios = np.array([err[k + 1] / err[k] ** 2 for k in ks])
    return (ratios, np.array(ks, dtype=int)) if return_index else ratios


def model_agreement(
    err, costs, predicted, actual, *, resolve: float = 1e-10, return_index: bool = False
):
    """``|actual / predicted - 1| / e_k`` for the accepted steps from ``e_k <= 1`` whose reduction
    is resolved.

    DDP's quadratic model of the cost is exact to second order in the step, so the measured
    reduction differs from the predicted one by a third-order remainder:
    ``actual / predicted - 1 = O(e_k)`` near the optimum. A method with a wrong second-order model
    (iLQR, which drops ``V_x . f_xx``) keeps a ratio away from 1 as ``e_k -> 0``. Steps whose
    predicted reduction is below ``resolve * |J|`` are left out (their reduction is at the rounding
    level of the cost).

    Args:
        err: control errors ``e_0..e_K``; costs: costs ``J_0..J_K``.
        predicted, actual: reductions of the ``K`` accepted steps.
        resolve: smallest resolved reduction relative to ``|J_k|`` (``> 0``).
        return_index: also return the steps ``k`` used.

    Example:
        >>> model_agreement([0.5, 0.1, 0.01], [2.0, 1.0, 0.9], [1.1, 0.1], [1.0, 0.1]).round(
        ...     6
        ... ).tolist()
        [0.181818, 0.0]
    """
    err = checks.real_array("err", err, ndim=1)
    costs = checks.real_array("costs", costs, ndim=1)
    predicted = checks.real_array("predicted", predicted, ndim=1)
    actual = checks.real_array("actual", actual, ndim=1)
    resolve = checks.positive("resolve", resolve)
    return_index = checks.boolean("return_index", return_index)
    K = predicted.size
    if err.shape != (K + 1,) or costs.shape != (K + 1,) or actual.shape != (K,):
        raise ValueError(
            f"need len(err) = len(costs) = len(predicted) + 1 = len(actual) + 1; got "
            f"{err.size}, {costs.size}, {predicted.size}, {actual.size}"
        )
    ks = [k for k in range(K) if 0 < err[k] <= 1 and predicted[k] > resolve * abs(costs[k])]
    out = np.array([abs(actual[k] / predicted[k] - 1) / err[k] for k in ks])
    return (out, np.array(ks, dtype=int)) if return_index else out
