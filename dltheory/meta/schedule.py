"""A learning-rate schedule learned by differentiating through unrolled SGD, against the optimal
control.

The family of noisy quadratics ``f(x) = a (x - b)^2 / 2`` with minimisers ``b ~ N(0, m0)`` and
``x_0 = 0`` is trained by SGD with rates ``eta u_k``, ``u_k in [0, 1]``:

    x_{k+1} = x_k - eta u_k (a (x_k - b) + sigma xi_k),       xi_k ~ N(0, 1),

for ``K`` steps. Meta-learning the schedule ``u`` means minimising ``E f(x_K)`` over ``u``: an
optimal control problem on the training dynamics, solved here by gradient descent on ``u`` with the
gradient obtained by reverse-mode differentiation through the ``K`` unrolled steps of many sampled
runs (a Monte Carlo costate).

Two references:

* the optimal schedule of the stochastic modified equation (Li, Tai & E 2017), which the control
  chapter derives: ``u* = 1`` until ``t*``, then ``1 / (1 + a (t - t*))`` with ``t = k eta``
  (:func:`sde_optimal_schedule`, which is the control chapter's ``optimal_lr_schedule``,
  re-exported);
* the exact optimum of the discrete problem. ``m_k = E (x_k - b)^2`` obeys
  ``m_{k+1} = (1 - eta a u_k)^2 m_k + eta^2 sigma^2 u_k^2``, increasing in ``m_k``, so dynamic
  programming reduces to minimising each step: ``u_k = min(1, a m_k / (eta (a^2 m_k + sigma^2)))``,
  the discrete form of the SDE's feedback law ``min(1, a m / (eta sigma^2))``.
"""

from __future__ import annotations

import numpy as np
import torch

from dltheory import _checks as checks
from dltheory.control.lr import optimal_lr_schedule, switch_time

__all__ = [
    "sde_switch_time",
    "sde_optimal_schedule",
    "expected_final_loss",
    "greedy_optimal_schedule",
    "unrolled_sgd_loss",
    "learn_schedule",
    "decay_exponent",
]


def _check_problem(a, eta, sigma, m0):
    return (
        checks.positive("a", a),
        checks.positive("eta", eta),
        checks.positive("sigma", sigma),
        checks.positive("m0", m0, allow_zero=True),
    )


# The SME's optimal schedule is the control chapter's result (Li, Tai & E 2017); the package keeps
# one copy.
sde_switch_time = switch_time
sde_optimal_schedule = optimal_lr_schedule


def expected_final_loss(u, *, a: float, eta: float, sigma: float, m0: float) -> float:
    """Exact ``E f(x_K) = a m_K / 2`` of SGD under the schedule ``u`` (the second-moment recursion).

    Example:
        >>> round(
        ...     expected_final_loss([1.0], a=1.0, eta=0.5, sigma=1.0, m0=1.0), 6
        ... )  # (0.25 + 0.25) / 2
        0.25
    """
    a, eta, sigma, m0 = _check_problem(a, eta, sigma, m0)
    u = checks.real_array("u", u, ndim=1, low=0.0, high=1.0)
    m = m0
    for uk in u:
        m = (1 - eta * a * uk) ** 2 * m + (eta * sigma * uk) ** 2
    return float(a * m / 2)


def greedy_optimal_schedule(
    n_steps: int, *, a: float, eta: float, sigma: float, m0: float
) -> np.ndarray:
    """The exact optimum of the discrete problem: ``u_k = min(1, a m_k / (eta (a^2 m_k +
    sigma^2)))``.

    Example:
        >>> greedy_optimal_schedule(2, a=1.0, eta=0.1, sigma=1.0, m0=1.0).round(4).tolist()
        [1.0, 1.0]
    """
    K = checks.integer("n_steps", n_steps, high=10_000_000)
    checks.work("n_steps", K)
    a, eta, sigma, m0 = _check_problem(a, eta, sigma, m0)
    u, m = np.empty(K), m0
    for k in range(K):
        u[k] = min(1.0, a * m / (eta * (a**2 * m + sigma**2)))
        m = (1 - eta * a * u[k]) ** 2 * m + (eta * sigma * u[k]) ** 2
    return u


def unrolled_sgd_loss(
    u: torch.Tensor,
    *,
    a: float,
    eta: float,
    sigma: float,
    m0: float,
    n_paths: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Mean final loss of ``n_paths`` SGD runs under the schedule ``u`` (differentiable in ``u``).

    All runs advance together as one vector; ``b ~ N(0, m0)``, ``x_0 = 0``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> u = torch.ones(3, dtype=torch.float64, requires_grad=True)
        >>> l = unrolled_sgd_loss(u, a=1.0, eta=0.1, sigma=1.0, m0=1.0, n_paths=100, generator=g)
        >>> tuple(torch.autograd.grad(l, u)[0].shape)
        (3,)
    """
    a, eta, sigma, m0 = _check_problem(a, eta, sigma, m0)
    P = checks.integer("n_paths", n_paths, high=10_000_000)
    if not isinstance(u, torch.Tensor) or u.ndim != 1:
        raise TypeError("u must be a 1-D torch tensor of multipliers")
    checks.size("n_paths * len(u)", P * u.shape[0])
    checks.real_array("u", u.detach(), low=0.0, high=1.0)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator; got {type(generator).__name__}")
    b = m0**0.5 * torch.randn(P, generator=generator, dtype=u.dtype)
    xi = torch.randn(u.shape[0], P, generator=generator, dtype=u.dtype)
    x = torch.zeros(P, dtype=u.dtype)
    for k in range(u.shape[0]):
        x = x - eta * u[k] * (a * (x - b) + sigma * xi[k])
    return 0.5 * a * ((x - b) ** 2).mean()


def learn_schedule(
    n_steps: int,
    *,
    a: float,
    eta: float,
    sigma: float,
    m0: float,
    n_paths: int = 1000,
    n_iter: int = 300,
    lr: float = 0.05,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Meta-learn ``u = sigmoid(z)`` by Adam on the unrolled Monte Carlo loss (fresh paths each
    iteration).

    Starts from ``u = 1/2``. Returns ``(u, losses)``: the learned schedule and the Monte Carlo loss
    of every iteration.

    Example:
        >>> u, _ = learn_schedule(5, a=1.0, eta=0.1, sigma=1.0, m0=1.0, n_paths=50, n_iter=3)
        >>> u.shape
        (5,)
    """
    K = checks.integer("n_steps", n_steps, high=100_000)
    a, eta, sigma, m0 = _check_problem(a, eta, sigma, m0)
    n_iter, lr = checks.integer("n_iter", n_iter, high=1_000_000), checks.positive("lr", lr)
    g = torch.Generator().manual_seed(checks.seed(seed))
    z = torch.zeros(K, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([z], lr=lr)
    losses = np.empty(n_iter)
    for it in range(n_iter):
        loss = unrolled_sgd_loss(
            torch.sigmoid(z), a=a, eta=eta, sigma=sigma, m0=m0, n_paths=n_paths, generator=g
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses[it] = float(loss.detach())
    return torch.sigmoid(z).detach().numpy(), losses


def decay_exponent(u, t, *, t_switch: float, a: float) -> float:
    """Slope of ``log u`` against ``log(1 + a (t - t*))`` on ``t > t*``: ``-1`` for the optimal
    ``1/(1 + a(t - t*))``.

    Example:
        >>> t = np.linspace(0.0, 10.0, 101)
        >>> round(decay_exponent(1.0 / (1.0 + np.maximum(t - 2.0, 0.0)), t, t_switch=2.0, a=1.0), 6)
        -1.0
    """
    u = checks.real_array("u", u, low=0, low_open=True, ndim=1)
    t = checks.real_array("t", t, ndim=1)
    if t.shape != u.shape:
        raise ValueError(f"t must have the shape of u {u.shape}; got {t.shape}")
    t_switch, a = checks.real("t_switch", t_switch), checks.positive("a", a)
    late = t > t_switch
    if late.sum() < 2:
        raise ValueError("need at least two times after t_switch to fit a slope")
    return float(np.polyfit(np.log1p(a * (t[late] - t_switch)), np.log(u[late]), 1)[0])
