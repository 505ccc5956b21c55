"""The learning rate as a control: the stochastic modified equation of SGD and cSGD.

Li, Tai & E (2017) approximate SGD with learning rate ``eta * u_k`` on the noisy quadratic
``f(x) = a (x - b)^2 / 2`` (gradient ``a (x - b) + sigma * xi``) by the stochastic modified equation
(SME)

    dX = -u a (X - b) dt + u sqrt(eta) sigma dW,      t = k eta,

so that ``m = E (X - b)^2`` obeys ``dm/dt = -2 a u m + eta sigma^2 u^2``. Minimising ``m_T`` over
``u in [0, 1]`` gives the feedback law ``u* = min(1, a m / (eta sigma^2))``: full rate until
``m = eta sigma^2 / a`` (at ``t*``), then ``u*(t) = 1 / (1 + a (t - t*))``. cSGD applies the same law
with ``a``, ``m`` and ``sigma^2`` estimated online, per parameter, from moving averages.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from dltheory import figures
from dltheory._checks import integer, positive, seed as _seed

__all__ = [
    "switch_time",
    "optimal_lr_schedule",
    "optimal_second_moment",
    "sme_second_moment",
    "discrete_second_moment",
    "constant_rate_stationary_loss",
    "simulate_sgd_quadratic",
    "lr_schedule_experiment",
    "digits_softmax_data",
    "csgd_softmax",
    "softmax_optimum",
    "csgd_experiment",
]


def _check_quadratic(a, eta, sigma, m0):
    a = positive("a", a)
    eta = positive("eta", eta)
    sigma = positive("sigma", sigma)
    m0 = positive("m0", m0, allow_zero=True)
    return a, eta, sigma, m0


def switch_time(*, a: float, eta: float, sigma: float, m0: float) -> float:
    """Time ``t*`` at which the optimal schedule leaves the full rate ``u = 1``.

    With ``u = 1`` the SME moment is ``m(t) = m_inf + (m0 - m_inf) e^{-2 a t}``, ``m_inf = eta sigma^2 / (2a)``,
    and ``t*`` solves ``m(t*) = eta sigma^2 / a``:  ``t* = ln(2 a m0 / (eta sigma^2) - 1) / (2a)``, or 0
    when ``m0 <= eta sigma^2 / a`` (Li, Tai & E 2017, Sec. 4).

    Example:
        >>> round(switch_time(a=1.0, eta=0.1, sigma=1.0, m0=1.0), 4)
        1.4722
    """
    a, eta, sigma, m0 = _check_quadratic(a, eta, sigma, m0)
    r = 2 * a * m0 / (eta * sigma**2)
    return 0.0 if r <= 2.0 else math.log(r - 1.0) / (2 * a)


def optimal_lr_schedule(t, *, a: float, eta: float, sigma: float, m0: float) -> np.ndarray:
    """Optimal learning-rate multiplier ``u*(t) = min(1, 1 / (1 + a (t - t*)))`` of the SME.

    Args:
        t: times (``t = k * eta`` for step ``k``), array-like, ``>= 0``.
        a: curvature ``a > 0`` of ``f(x) = a (x - b)^2 / 2``.
        eta: the maximal learning rate ``eta > 0``.
        sigma: gradient-noise standard deviation ``sigma > 0``.
        m0: initial second moment ``E (X_0 - b)^2 >= 0``.

    Returns:
        ``u*(t)`` with the shape of ``t``.

    Example:
        >>> optimal_lr_schedule([0.0, 10.0], a=1.0, eta=0.1, sigma=1.0, m0=0.05).round(4).tolist()
        [1.0, 0.0909]
    """
    t = np.asarray(t, dtype=float)
    if np.any(t < 0) or not np.all(np.isfinite(t)):
        raise ValueError("t must be finite and >= 0")
    ts = switch_time(a=a, eta=eta, sigma=sigma, m0=m0)
    return np.where(t <= ts, 1.0, 1.0 / (1.0 + a * np.maximum(t - ts, 0.0)))


def optimal_second_moment(t, *, a: float, eta: float, sigma: float, m0: float) -> np.ndarray:
    """Closed-form ``m(t) = E (X_t - b)^2`` of the SME under the optimal schedule.

    ``m(t) = m_inf + (m0 - m_inf) e^{-2at}`` for ``t <= t*`` and ``m(t) = eta sigma^2 / (a (1 + a (t - t*)))``
    after, which solves ``dm/dt = -a^2 m^2 / (eta sigma^2)`` (Li, Tai & E 2017).

    Example:
        >>> float(optimal_second_moment(0.0, a=1.0, eta=0.1, sigma=1.0, m0=1.0))
        1.0
    """
    a, eta, sigma, m0 = _check_quadratic(a, eta, sigma, m0)
    t = np.asarray(t, dtype=float)
    ts = switch_time(a=a, eta=eta, sigma=sigma, m0=m0)
    m_inf = eta * sigma**2 / (2 * a)
    if ts == 0.0:  # already below the switching level: anneal from m0 itself
        t0 = (1.0 / m0 - a / (eta * sigma**2)) * eta * sigma**2 / a**2 if m0 > 0 else math.inf
        if m0 == 0:
            return np.zeros_like(t)
        return eta * sigma**2 / (a * (1 + a * (t - t0)))
    early = m_inf + (m0 - m_inf) * np.exp(-2 * a * np.minimum(t, ts))
    late = eta * sigma**2 / (a * (1 + a * np.maximum(t - ts, 0.0)))
    return np.where(t <= ts, early, late)


def sme_second_moment(u, *, t_end: float, a: float, eta: float, sigma: float, m0: float, n_steps: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """Integrate ``dm/dt = -2 a u(t, m) m + eta sigma^2 u(t, m)^2`` with classical RK4.

    Args:
        u: callable ``u(t, m)`` (a schedule or a feedback law) returning a float in ``[0, 1]``.
        t_end: final time ``> 0``.
        n_steps: RK4 steps.

    Returns:
        ``(t, m)`` arrays of length ``n_steps + 1``.

    Example:
        >>> t, m = sme_second_moment(lambda t, m: 1.0, t_end=5.0, a=1.0, eta=0.1, sigma=1.0, m0=1.0)
        >>> round(float(m[-1]), 4)
        0.05
    """
    if not callable(u):
        raise TypeError("u must be callable u(t, m)")
    a, eta, sigma, m0 = _check_quadratic(a, eta, sigma, m0)
    t_end = positive("t_end", t_end)
    n_steps = integer("n_steps", n_steps)
    dt = t_end / n_steps

    def rhs(t, m):
        uu = u(t, m)
        return -2 * a * uu * m + eta * sigma**2 * uu**2

    ts = np.linspace(0.0, t_end, n_steps + 1)
    ms = np.empty(n_steps + 1)
    ms[0] = m = m0
    for k in range(n_steps):
        t = ts[k]
        k1 = rhs(t, m)
        k2 = rhs(t + dt / 2, m + dt / 2 * k1)
        k3 = rhs(t + dt / 2, m + dt / 2 * k2)
        k4 = rhs(t + dt, m + dt * k3)
        m = m + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ms[k + 1] = m
    return ts, ms


def discrete_second_moment(u, *, a: float, eta: float, sigma: float, m0: float) -> np.ndarray:
    """Exact ``m_k = E (x_k - b)^2`` of SGD ``x_{k+1} = x_k - eta u_k (a (x_k - b) + sigma xi_k)``.

    ``m_{k+1} = (1 - eta a u_k)^2 m_k + eta^2 sigma^2 u_k^2``. With constant ``u = 1`` its fixed point is
    ``eta sigma^2 / (a (2 - eta a))``, so ``E f = eta sigma^2 / (2 (2 - eta a))``.

    Args:
        u: learning-rate multipliers ``u_0, ..., u_{K-1}`` (1-D array).

    Returns:
        ``m_0, ..., m_K``.

    Example:
        >>> discrete_second_moment([1.0, 1.0], a=1.0, eta=0.5, sigma=1.0, m0=1.0).tolist()
        [1.0, 0.5, 0.375]
    """
    a, eta, sigma, m0 = _check_quadratic(a, eta, sigma, m0)
    u = np.asarray(u, dtype=float)
    if u.ndim != 1:
        raise ValueError(f"u must be a 1-D array of multipliers; got shape {u.shape}")
    m = np.empty(u.size + 1)
    m[0] = m0
    for k, uk in enumerate(u):
        m[k + 1] = (1 - eta * a * uk) ** 2 * m[k] + (eta * sigma * uk) ** 2
    return m


def constant_rate_stationary_loss(*, a: float, eta: float, sigma: float) -> float:
    """Stationary ``E f(x) = eta sigma^2 / (2 (2 - eta a))`` of constant-rate SGD on the noisy quadratic.

    Raises:
        ValueError: if ``eta a >= 2`` (SGD diverges; there is no stationary value).

    Example:
        >>> round(constant_rate_stationary_loss(a=1.0, eta=0.1, sigma=1.0), 6)  # 0.1 / (2 * 1.9)
        0.026316
    """
    a, eta, sigma, _ = _check_quadratic(a, eta, sigma, 0.0)
    if eta * a >= 2:
        raise ValueError(f"need eta * a < 2 for a stationary state; got eta * a = {eta * a}")
    return eta * sigma**2 / (2 * (2 - eta * a))


def simulate_sgd_quadratic(u, *, a: float, b: float, eta: float, sigma: float, x0: float, n_paths: int, seed: int) -> np.ndarray:
    """Simulate ``n_paths`` independent SGD runs on the noisy quadratic, vectorised over paths.

    ``x_{k+1} = x_k - eta u_k (a (x_k - b) + sigma xi_k)``, ``xi_k ~ N(0, 1)`` i.i.d.

    Args:
        u: learning-rate multipliers ``u_0..u_{K-1}`` in ``[0, 1]``.
        b: the minimiser.
        x0: initial point (the same for every path).
        n_paths: number of independent runs.
        seed: seed of the noise.

    Returns:
        Array ``(K + 1, n_paths)`` of the loss ``f(x_k) = a (x_k - b)^2 / 2``.

    Example:
        >>> simulate_sgd_quadratic([1.0] * 3, a=1.0, b=0.0, eta=0.1, sigma=1.0, x0=1.0, n_paths=4, seed=0).shape
        (4, 4)
    """
    a, eta, sigma, _ = _check_quadratic(a, eta, sigma, 0.0)
    n_paths = integer("n_paths", n_paths)
    u = np.asarray(u, dtype=float)
    if u.ndim != 1 or np.any(u < 0) or np.any(u > 1):
        raise ValueError("u must be a 1-D array of multipliers in [0, 1]")
    rng = np.random.default_rng(_seed(seed))
    x = np.full(n_paths, float(x0))
    out = np.empty((u.size + 1, n_paths))
    out[0] = 0.5 * a * (x - b) ** 2
    for k, uk in enumerate(u):
        x = x - eta * uk * (a * (x - b) + sigma * rng.standard_normal(n_paths))
        out[k + 1] = 0.5 * a * (x - b) ** 2
    return out


def lr_schedule_experiment(*, a: float = 1.0, b: float = 0.0, eta: float = 0.1, sigma: float = 1.0, x0: float = 2.0, t_end: float = 100.0, n_paths: int = 20000, seed: int = 0) -> dict:
    """Optimal schedule vs constant rate on the noisy quadratic: SME theory and simulated SGD.

    Returns:
        dict with ``t`` (times ``k eta``), ``u`` (optimal multipliers), the simulated mean loss
        ``loss_opt``/``loss_const`` and their standard errors at the end, the SME predictions
        ``theory_opt`` (``a m(t) / 2``), the exact discrete means ``discrete_opt``/``discrete_const``,
        ``stationary_const`` and ``t_switch``.
    """
    a, eta, sigma, _ = _check_quadratic(a, eta, sigma, 0.0)
    t_end = positive("t_end", t_end)
    n_steps = int(round(t_end / eta))
    t = np.arange(n_steps + 1) * eta
    m0 = (x0 - b) ** 2
    u = optimal_lr_schedule(t[:-1], a=a, eta=eta, sigma=sigma, m0=m0)
    ones = np.ones(n_steps)
    f_opt = simulate_sgd_quadratic(u, a=a, b=b, eta=eta, sigma=sigma, x0=x0, n_paths=n_paths, seed=seed)
    f_const = simulate_sgd_quadratic(ones, a=a, b=b, eta=eta, sigma=sigma, x0=x0, n_paths=n_paths, seed=seed + 1)
    return {
        "t": t,
        "u": np.concatenate([u, u[-1:]]),
        "loss_opt": f_opt.mean(axis=1),
        "loss_const": f_const.mean(axis=1),
        "se_opt": float(f_opt[-1].std(ddof=1) / math.sqrt(n_paths)),
        "se_const": float(f_const[-1].std(ddof=1) / math.sqrt(n_paths)),
        "theory_opt": 0.5 * a * optimal_second_moment(t, a=a, eta=eta, sigma=sigma, m0=m0),
        "discrete_opt": 0.5 * a * discrete_second_moment(u, a=a, eta=eta, sigma=sigma, m0=m0),
        "discrete_const": 0.5 * a * discrete_second_moment(ones, a=a, eta=eta, sigma=sigma, m0=m0),
        "stationary_const": constant_rate_stationary_loss(a=a, eta=eta, sigma=sigma),
        "t_switch": switch_time(a=a, eta=eta, sigma=sigma, m0=m0),
        "params": dict(a=a, b=b, eta=eta, sigma=sigma, x0=x0, n_paths=n_paths),
    }


@figures.register(
    "control/lr-schedule",
    caption=(
        r"Left: the optimal learning-rate multiplier $u^*(t)$ of the stochastic modified equation, full rate "
        r"until $t^*$ and then $1/(1 + a(t - t^*))$. Right: mean loss of 20000 simulated SGD runs on the "
        r"noisy quadratic under that schedule and at constant rate, against the SME prediction and the exact "
        r"discrete stationary value."
    ),
    compute=functools.partial(lr_schedule_experiment, seed=0),
)
def _plot_lr_schedule(d):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.6))
    ax0.plot(d["t"], d["u"], label=r"optimal control $u^*(t)$ (theory)")
    ax0.axvline(d["t_switch"], color="0.5", ls=":", label=r"switch time $t^*$")
    ax0.set_xscale("symlog", linthresh=1.0)
    ax0.set_xlim(0.0, float(d["t"][-1]))
    ax0.set_yscale("log")
    ax0.set(xlabel=r"time $t = k\eta$", ylabel=r"learning-rate multiplier $u$")
    ax0.legend()
    t = d["t"]
    ax1.loglog(t[1:], d["loss_const"][1:], label="SGD, constant rate (experiment)")
    ax1.loglog(t[1:], d["loss_opt"][1:], label="SGD, optimal schedule (experiment)")
    ax1.loglog(t[1:], d["theory_opt"][1:], "k--", lw=1.0, label=r"SME prediction $a\,m(t)/2$ (theory)")
    ax1.axhline(d["stationary_const"], color="0.4", ls=":", label=r"stationary $\eta\sigma^2/(2(2 - \eta a))$ (theory)")
    ax1.set(xlabel=r"time $t = k\eta$", ylabel=r"mean loss $\mathbb{E}\,f(x_k)$")
    ax1.legend()
    return fig


# --------------------------------------------------------------------------------------------- cSGD
def digits_softmax_data(*, seed: int = 0, test_size: float = 0.3, dtype=torch.float64):
    """Standardised scikit-learn digits, split into train and test sets (features ``(n, 64)``).

    Returns:
        ``(x_train, y_train, x_test, y_test)`` torch tensors.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_size, random_state=_seed(seed), stratify=y)
    mu, sd = xtr.mean(0), xtr.std(0) + 1.0
    f = lambda z: torch.as_tensor((z - mu) / sd, dtype=dtype)
    return f(xtr), torch.as_tensor(ytr), f(xte), torch.as_tensor(yte)


def _softmax_loss_grad(w, x, y, weight_decay: float = 0.0):
    """Mean cross-entropy of ``softmax(x w)`` plus ``weight_decay |w|^2 / 2`` and its gradient.

    Vectorised over a leading model axis: ``w``: ``(L, d + 1, K)`` (last row = bias); ``x``: ``(n, d)``;
    ``y``: ``(n,)``.
    """
    xb = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)
    logits = torch.einsum("nd,ldk->lnk", xb, w)
    logp = torch.log_softmax(logits, dim=-1)
    onehot = torch.nn.functional.one_hot(y, w.shape[-1]).to(w.dtype)
    loss = -(logp * onehot).sum(-1).mean(-1)
    grad = torch.einsum("nd,lnk->ldk", xb, logp.exp() - onehot) / x.shape[0]
    if weight_decay:
        loss = loss + 0.5 * weight_decay * (w * w).sum(dim=(1, 2))
        grad = grad + weight_decay * w
    return loss, grad


def softmax_optimum(*, x, y, weight_decay: float) -> float:
    """Minimum of the weight-decayed softmax-regression objective (L-BFGS to gradient norm 1e-10)."""
    from scipy.optimize import minimize

    positive("weight_decay", weight_decay)
    k = int(y.max()) + 1
    shape = (1, x.shape[1] + 1, k)

    def fun(v):
        w = torch.as_tensor(v, dtype=torch.float64).view(shape)
        loss, grad = _softmax_loss_grad(w, x.double(), y, weight_decay)
        return float(loss[0]), grad.reshape(-1).numpy()

    res = minimize(fun, np.zeros(int(np.prod(shape))), jac=True, method="L-BFGS-B", options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 5000})
    return float(res.fun)


def csgd_softmax(lrs, *, x, y, n_epochs: int = 30, batch_size: int = 16, beta: float = 0.99, weight_decay: float = 1e-2, controlled: bool = True, seed: int = 0):
    """Train softmax regression with SGD or cSGD at several maximal learning rates at once.

    cSGD (Li, Tai & E 2017) applies the SME's optimal feedback ``u = min(1, a m / (eta Sigma))`` per
    parameter, with the curvature ``a`` from a moving-average linear regression of the gradient on the
    parameter, ``Sigma`` the residual gradient variance of that regression and
    ``m = Var(x) + ((mean g) / a)^2`` the estimated squared distance to the minimiser; ``beta`` is the
    moving-average factor. ``controlled=False`` gives plain constant-rate SGD with the same batches.

    Args:
        lrs: maximal learning rates, 1-D (the runs are one batched computation).
        x, y: training features ``(n, d)`` and labels ``(n,)``.
        n_epochs: passes over the data.
        batch_size: minibatch size.
        beta: moving-average factor in ``(0, 1)``.
        weight_decay: L2 penalty ``>= 0`` (makes the minimum finite, as in the SME model).
        controlled: cSGD (True) or SGD (False).
        seed: seed of the minibatch order (shared by all runs).

    Returns:
        dict with ``loss`` ``(n_epochs + 1, L)`` (full training loss after each epoch), ``w`` the final
        weights and ``u_mean`` ``(n_epochs + 1, L)`` the mean multiplier.
    """
    lrs = torch.as_tensor(np.asarray(lrs, dtype=float), dtype=x.dtype)
    if lrs.ndim != 1 or lrs.numel() == 0 or torch.any(lrs <= 0):
        raise ValueError("lrs must be a non-empty 1-D array of positive learning rates")
    n_epochs = integer("n_epochs", n_epochs)
    batch_size = integer("batch_size", batch_size)
    if not 0 < beta < 1:
        raise ValueError(f"beta must be in (0, 1); got {beta}")
    weight_decay = positive("weight_decay", weight_decay, allow_zero=True)
    n, d = x.shape
    k = int(y.max()) + 1
    L = lrs.numel()
    g = torch.Generator().manual_seed(_seed(seed))
    w = torch.zeros(L, d + 1, k, dtype=x.dtype)
    u = torch.ones_like(w)
    stats = None
    lr = lrs.view(L, 1, 1)
    losses, umeans = [], []
    losses.append(_softmax_loss_grad(w, x, y, weight_decay)[0])
    umeans.append(u.mean(dim=(1, 2)))
    for _ in range(n_epochs):
        perm = torch.randperm(n, generator=g)
        for s in range(0, n - batch_size + 1, batch_size):
            idx = perm[s : s + batch_size]
            _, grad = _softmax_loss_grad(w, x[idx], y[idx], weight_decay)
            if controlled:
                cur = (grad, grad * grad, w, w * w, grad * w)
                stats = list(cur) if stats is None else [beta * m_ + (1 - beta) * c for m_, c in zip(stats, cur)]
                gb, g2, xb, x2, gx = stats
                var_x = (x2 - xb * xb).clamp_min(0)
                cov = gx - gb * xb
                a_hat = torch.where(var_x > 0, cov / var_x.clamp_min(1e-300), torch.zeros_like(cov)).clamp_min(0)
                sig2 = (g2 - gb * gb - a_hat * cov).clamp_min(1e-300)
                m_hat = var_x + torch.where(a_hat > 0, (gb / a_hat.clamp_min(1e-300)) ** 2, torch.zeros_like(gb))
                u_new = (a_hat * m_hat / (lr * sig2)).clamp(max=1.0)
                # no measured curvature yet (parameter not moved, or a <= 0): keep the full rate
                u = torch.where(a_hat > 0, u_new, torch.ones_like(u_new))
            w = w - lr * u * grad
        losses.append(_softmax_loss_grad(w, x, y, weight_decay)[0])
        umeans.append(u.mean(dim=(1, 2)))
    return {"loss": torch.stack(losses).numpy(), "u_mean": torch.stack(umeans).numpy(), "w": w}


def csgd_experiment(*, lrs=(0.05, 0.5, 5.0), n_epochs: int = 30, batch_size: int = 16, weight_decay: float = 1e-2, seed: int = 0) -> dict:
    """SGD and cSGD on weight-decayed softmax regression of digits over two decades of learning rates.

    Returns:
        dict with ``lrs``, ``epochs``, the optimum ``f_star`` and, for ``sgd`` and ``csgd``, the excess
        training objective ``F(w_epoch) - F*`` of shape ``(n_epochs + 1, len(lrs))`` and the mean multiplier.
    """
    x, y, xt, yt = digits_softmax_data(seed=seed)
    f_star = softmax_optimum(x=x, y=y, weight_decay=weight_decay)
    out = {"lrs": np.asarray(lrs, dtype=float), "epochs": np.arange(n_epochs + 1), "f_star": f_star}
    for name, ctl in (("sgd", False), ("csgd", True)):
        r = csgd_softmax(lrs, x=x, y=y, n_epochs=n_epochs, batch_size=batch_size, weight_decay=weight_decay, controlled=ctl, seed=seed)
        out[name] = r["loss"] - f_star
        out[name + "_u"] = r["u_mean"]
    return out


@figures.register(
    "control/csgd",
    caption=(
        "Training loss of softmax regression on digits with plain SGD (dashed) and cSGD (solid), the "
        "learning rate controlled online by the SME's optimal feedback law, for maximal learning rates "
        "spanning two orders of magnitude."
    ),
    compute=functools.partial(csgd_experiment, seed=0),
)
def _plot_csgd(d):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, lr in enumerate(d["lrs"]):
        c = figures.PALETTE[i % len(figures.PALETTE)]
        ax.semilogy(d["epochs"], d["sgd"][:, i], "--", color=c, label=rf"SGD, $\eta$ = {lr:g} (experiment)")
        ax.semilogy(d["epochs"], d["csgd"][:, i], "-", color=c, label=rf"cSGD, $\eta$ = {lr:g} (experiment)")
    ax.set(xlabel="epoch", ylabel=r"excess training objective $F(w) - F^*$")
    ax.legend(ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    return fig
