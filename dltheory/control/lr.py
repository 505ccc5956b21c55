"""The learning rate as a control: the stochastic modified equation of SGD and cSGD.

Li, Tai & E (2017) approximate SGD with learning rate ``eta * u_k`` on the noisy quadratic
``f(x) = a (x - b)^2 / 2`` (gradient ``a (x - b) + sigma * xi``) by the stochastic modified equation
(SME)

    dX = -u a (X - b) dt + u sqrt(eta) sigma dW,      t = k eta,

so that ``m = E (X - b)^2`` obeys ``dm/dt = -2 a u m + eta sigma^2 u^2``. Minimising ``m_T`` over
``u in [0, 1]`` gives the feedback law ``u* = min(1, a m / (eta sigma^2))``: full rate until
``m = eta sigma^2 / a`` (at ``t*``), then ``u*(t) = 1 / (1 + a (t - t*))``. cSGD applies the same
law with ``a``, ``m`` and ``sigma^2`` estimated online, per parameter, from moving averages.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dltheory import _checks as checks

__all__ = [
    "switch_time",
    "optimal_lr_schedule",
    "optimal_second_moment",
    "sme_second_moment",
    "discrete_second_moment",
    "constant_rate_stationary_loss",
    "simulate_sgd_quadratic",
    "digits_softmax_data",
    "csgd_softmax",
    "softmax_optimum",
]


def _check_quadratic(a, eta, sigma, m0):
    a = checks.positive("a", a)
    eta = checks.positive("eta", eta)
    sigma = checks.positive("sigma", sigma)
    m0 = checks.positive("m0", m0, allow_zero=True)
    return a, eta, sigma, m0


def switch_time(*, a: float, eta: float, sigma: float, m0: float) -> float:
    """Time ``t*`` at which the optimal schedule leaves the full rate ``u = 1``.

    With ``u = 1`` the SME moment is ``m(t) = m_inf + (m0 - m_inf) e^{-2 a t}``,
    ``m_inf = eta sigma^2 / (2a)``, and ``t*`` solves ``m(t*) = eta sigma^2 / a``:
    ``t* = ln(2 a m0 / (eta sigma^2) - 1) / (2a)``, or 0 when ``m0 <= eta sigma^2 / a`` (Li, Tai & E
    2017).

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
    t = checks.real_array("t", t)
    if np.any(t < 0):
        raise ValueError("t must be finite and >= 0")
    ts = switch_time(a=a, eta=eta, sigma=sigma, m0=m0)
    return np.where(t <= ts, 1.0, 1.0 / (1.0 + a * np.maximum(t - ts, 0.0)))


def optimal_second_moment(t, *, a: float, eta: float, sigma: float, m0: float) -> np.ndarray:
    """Closed-form ``m(t) = E (X_t - b)^2`` of the SME under the optimal schedule.

    ``m(t) = m_inf + (m0 - m_inf) e^{-2at}`` for ``t <= t*`` and
    ``m(t) = eta sigma^2 / (a (1 + a (t - t*)))`` after, which solves
    ``dm/dt = -a^2 m^2 / (eta sigma^2)`` (Li, Tai & E 2017).

    Example:
        >>> round(float(optimal_second_moment(0.0, a=1.0, eta=0.1, sigma=1.0, m0=1.0)), 6)
        1.0
    """
    a, eta, sigma, m0 = _check_quadratic(a, eta, sigma, m0)
    t = checks.real_array("t", t)
    if np.any(t < 0):
        raise ValueError("t must be finite and >= 0")
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


def sme_second_moment(
    u, *, t_end: float, a: float, eta: float, sigma: float, m0: float, n_steps: int = 20000
) -> tuple[np.ndarray, np.ndarray]:
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
    u = checks.function("u", u)
    a, eta, sigma, m0 = _check_quadratic(a, eta, sigma, m0)
    t_end = checks.positive("t_end", t_end)
    n_steps = checks.integer("n_steps", n_steps, high=100_000_000)
    checks.work("n_steps", n_steps)
    dt = t_end / n_steps

    def rhs(t, m):
        uu = checks.probability("u", checks.finite_output("u", u(t, m)))
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

    ``m_{k+1} = (1 - eta a u_k)^2 m_k + eta^2 sigma^2 u_k^2``. With constant ``u = 1`` its fixed
    point is ``eta sigma^2 / (a (2 - eta a))``, so ``E f = eta sigma^2 / (2 (2 - eta a))``.

    Args:
        u: learning-rate multipliers ``u_0, ..., u_{K-1}`` (1-D array).

    Returns:
        ``m_0, ..., m_K``.

    Example:
        >>> discrete_second_moment([1.0, 1.0], a=1.0, eta=0.5, sigma=1.0, m0=1.0).round(6).tolist()
        [1.0, 0.5, 0.375]
    """
    a, eta, sigma, m0 = _check_quadratic(a, eta, sigma, m0)
    u = checks.real_array("u", u, ndim=1)
    m = np.empty(u.size + 1)
    m[0] = m0
    for k, uk in enumerate(u):
        m[k + 1] = (1 - eta * a * uk) ** 2 * m[k] + (eta * sigma * uk) ** 2
    return m


def constant_rate_stationary_loss(*, a: float, eta: float, sigma: float) -> float:
    """Stationary ``E f(x) = eta sigma^2 / (2 (2 - eta a))`` of constant-rate SGD on the noisy
    quadratic.

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


def simulate_sgd_quadratic(
    u, *, a: float, b: float, eta: float, sigma: float, x0: float, n_paths: int, seed: int
) -> np.ndarray:
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
        >>> simulate_sgd_quadratic(
        ...     [1.0] * 3, a=1.0, b=0.0, eta=0.1, sigma=1.0, x0=1.0, n_paths=4, seed=0
        ... ).shape
        (4, 4)
    """
    a, eta, sigma, _ = _check_quadratic(a, eta, sigma, 0.0)
    b = checks.real("b", b)
    x0 = checks.real("x0", x0)
    n_paths = checks.integer("n_paths", n_paths, high=100_000_000)
    u = checks.real_array("u", u, ndim=1)
    if np.any(u < 0) or np.any(u > 1):
        raise ValueError("u must be a 1-D array of multipliers in [0, 1]")
    checks.size("(len(u) + 1) * n_paths", (u.size + 1) * n_paths)
    rng = np.random.default_rng(checks.seed(seed))
    x = np.full(n_paths, float(x0))
    out = np.empty((u.size + 1, n_paths))
    out[0] = 0.5 * a * (x - b) ** 2
    for k, uk in enumerate(u):
        x = x - eta * uk * (a * (x - b) + sigma * rng.standard_normal(n_paths))
        out[k + 1] = 0.5 * a * (x - b) ** 2
    return out


# --------------------------------------------------------------------------------------------- cSGD
def digits_softmax_data(*, seed: int = 0, test_size: float = 0.3, dtype=torch.float64):
    """Standardised scikit-learn digits, split into train and test sets (features ``(n, 64)``).

    Returns:
        ``(x_train, y_train, x_test, y_test)`` torch tensors.

    Example:
        >>> x, y, xt, yt = digits_softmax_data()
        >>> tuple(x.shape), tuple(yt.shape)
        ((1257, 64), (540,))
    """
    test_size = checks.real(
        "test_size", test_size, low=0.0, high=1.0, low_open=True, high_open=True
    )
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=test_size, random_state=checks.seed(seed), stratify=y
    )
    mu, sd = xtr.mean(0), xtr.std(0) + 1.0

    def f(z):
        return torch.as_tensor((z - mu) / sd, dtype=dtype)

    return f(xtr), torch.as_tensor(ytr), f(xte), torch.as_tensor(yte)


def _check_xy(x, y):
    """Features ``(n, d)`` and labels ``0..K-1`` with every class present; returns ``(x, y, K)``."""
    x = checks.tensor("x", x, ndim=2)
    if x.shape[0] < 2:
        raise ValueError(f"x must hold at least two samples; got {x.shape[0]}")
    y = checks.labels("y", y, n_classes=2**31, n=x.shape[0])
    k = int(y.max()) + 1
    if k < 2 or torch.unique(y).numel() != k:
        raise ValueError(
            f"y must hold class labels 0..K-1 with every class present (K >= 2); "
            f"got the classes {torch.unique(y).tolist()}"
        )
    return x, y, k


def _softmax_loss_grad(w, x, y, weight_decay: float = 0.0):
    """Mean cross-entropy of ``softmax(x w)`` plus ``weight_decay |w|^2 / 2`` and its gradient.

    Vectorised over a leading model axis: ``w``: ``(L, d + 1, K)`` (last row = bias); ``x``:
    ``(n, d)``; ``y``: ``(n,)``.
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
    """Minimum of the weight-decayed softmax-regression objective (L-BFGS to gradient norm 1e-10).

    Example:
        >>> x = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
        >>> round(softmax_optimum(x=x, y=[0, 1], weight_decay=1.0), 4)
        0.5255
    """
    from scipy.optimize import minimize

    weight_decay = checks.positive("weight_decay", weight_decay)
    x, y, k = _check_xy(x, y)
    shape = (1, x.shape[1] + 1, k)

    def fun(v):
        w = torch.as_tensor(v, dtype=torch.float64).view(shape)
        loss, grad = _softmax_loss_grad(w, x.double(), y, weight_decay)
        return float(loss[0]), grad.reshape(-1).numpy()

    res = minimize(
        fun,
        np.zeros(int(np.prod(shape))),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 5000},
    )
    return float(res.fun)


def csgd_softmax(
    lrs,
    *,
    x,
    y,
    n_epochs: int = 30,
    batch_size: int = 16,
    beta: float = 0.99,
    weight_decay: float = 1e-2,
    controlled: bool = True,
    seed: int = 0,
):
    """Train softmax regression with SGD or cSGD at several maximal learning rates at once.

    cSGD (Li, Tai & E 2017) applies the SME's optimal feedback ``u = min(1, a m / (eta Sigma))`` per
    parameter, with the curvature ``a`` from a moving-average linear regression of the gradient on
    the parameter, ``Sigma`` the residual gradient variance of that regression and
    ``m = Var(x) + ((mean g) / a)^2`` the estimated squared distance to the minimiser; ``beta`` is
    the moving-average factor. ``controlled=False`` gives plain constant-rate SGD with the same
    batches.

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
        dict with ``loss`` ``(n_epochs + 1, L)`` (full training loss after each epoch), ``w`` the
        final weights and ``u_mean`` ``(n_epochs + 1, L)`` the mean multiplier.

    Example:
        >>> x = torch.tensor([[1.0], [-1.0], [2.0], [-2.0]], dtype=torch.float64)
        >>> r = csgd_softmax([0.1, 1.0], x=x, y=[0, 1, 0, 1], n_epochs=2, batch_size=2)
        >>> r["loss"].shape
        (3, 2)
    """
    x, y, k = _check_xy(x, y)
    lrs = checks.real_array("lrs", lrs, ndim=1)
    if lrs.size == 0 or np.any(lrs <= 0):
        raise ValueError("lrs must be a non-empty 1-D array of positive learning rates")
    lrs = torch.as_tensor(lrs, dtype=x.dtype)
    n_epochs = checks.integer("n_epochs", n_epochs, high=1_000_000)
    n, d = x.shape
    batch_size = checks.integer("batch_size", batch_size, high=n)
    beta = checks.real("beta", beta, low=0.0, high=1.0, low_open=True, high_open=True)
    weight_decay = checks.positive("weight_decay", weight_decay, allow_zero=True)
    controlled = checks.boolean("controlled", controlled)
    L = lrs.numel()
    checks.size("len(lrs) * (d + 1) * classes", L * (d + 1) * k * 8)
    checks.work("n_epochs", n_epochs * max(1, n // batch_size), L * batch_size * (d + 1) * k * 10)
    g = torch.Generator().manual_seed(checks.seed(seed))
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
                stats = (
                    list(cur)
                    if stats is None
                    else [beta * m_ + (1 - beta) * c for m_, c in zip(stats, cur, strict=False)]
                )
                gb, g2, xb, x2, gx = stats
                var_x = (x2 - xb * xb).clamp_min(0)
                cov = gx - gb * xb
                a_hat = torch.where(
                    var_x > 0, cov / var_x.clamp_min(1e-300), torch.zeros_like(cov)
                ).clamp_min(0)
                sig2 = (g2 - gb * gb - a_hat * cov).clamp_min(1e-300)
                m_hat = var_x + torch.where(
                    a_hat > 0, (gb / a_hat.clamp_min(1e-300)) ** 2, torch.zeros_like(gb)
                )
                u_new = (a_hat * m_hat / (lr * sig2)).clamp(max=1.0)
                # no measured curvature yet (parameter not moved, or a <= 0): keep the full rate
                u = torch.where(a_hat > 0, u_new, torch.ones_like(u_new))
            w = w - lr * u * grad
        checks.finite_state("lrs", w, lrs.max().item())
        losses.append(_softmax_loss_grad(w, x, y, weight_decay)[0])
        umeans.append(u.mean(dim=(1, 2)))
    return {"loss": torch.stack(losses).numpy(), "u_mean": torch.stack(umeans).numpy(), "w": w}
