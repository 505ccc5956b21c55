"""Finite-width random networks against mean field theory: forward kernels, their fluctuations,
gradients.

:func:`simulate` propagates a pair of inputs through random tanh (or any) networks of finite width,
batched over seeds, and optionally backpropagates a random readout to measure gradient norms layer
by layer.
:func:`fluctuation_theory` predicts the size of the finite-width fluctuations of the measured length
and correlation around the mean-field recursion, to leading order in ``1/N`` (linear-noise
approximation).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks
from dltheory.meanfield._threads import single_thread
from dltheory.meanfield.activations import get_activation
from dltheory.meanfield.maps import ActivationLike, iterate_maps
from dltheory.meanfield.quadrature import gauss_expect, gauss_expect_2d

__all__ = [
    "Simulation",
    "FluctuationTheory",
    "DecayFit",
    "simulate",
    "fluctuation_theory",
    "log_rate",
    "decay_length",
    "MAX_WIDTH",
    "MAX_DEPTH",
]

#: Largest width and depth :func:`simulate` and :func:`fluctuation_theory` accept.
MAX_WIDTH = 100_000
MAX_DEPTH = 100_000


@dataclass(frozen=True)
class Simulation:
    """Measured kernels of random networks (result of :func:`simulate`).

    Attributes:
        q_a: ``|h_a^l|^2 / N`` of the first input, shape ``(n_seeds, depth)``.
        q_b: the same for the second input.
        c: cosine ``h_a . h_b / (|h_a| |h_b|)``, shape ``(n_seeds, depth)``.
        grad: ``|delta^l|^2 / N`` of the backpropagated readout gradient, or ``None`` without
            ``backward=True``.
    """

    q_a: np.ndarray
    q_b: np.ndarray
    c: np.ndarray
    grad: np.ndarray | None = None


@dataclass(frozen=True)
class FluctuationTheory:
    """Mean-field kernel and its leading-order finite-width standard deviations
    (:func:`fluctuation_theory`).

    Attributes:
        q: mean-field length per layer, shape ``(depth,)``.
        c: mean-field correlation per layer.
        sd_q: predicted standard deviation of the measured length ``q_a``.
        sd_c: predicted standard deviation of the measured correlation ``c``.
    """

    q: np.ndarray
    c: np.ndarray
    sd_q: np.ndarray
    sd_c: np.ndarray


def _variances(sigma_w2, sigma_b2) -> tuple[float, float]:
    return (
        checks.real("sigma_w2", sigma_w2, low=0.0, low_open=True),
        checks.real("sigma_b2", sigma_b2, low=0.0),
    )


def _pair_input(q0, c0) -> tuple[float, float]:
    return checks.real("q0", q0, low=0.0, low_open=True), checks.real("c0", c0, low=-1.0, high=1.0)


def _layer_generator(seed: int, layer: int, device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed) * 1_000_003 + layer)


def _layer_params(seed, layer, n_seeds, n_in, n_out, sigma_w2, sigma_b2, device):
    # Unit Gaussian weights (float32), their scale sqrt(sigma_w^2 / n_in) (applied to the product,
    # not to the N^2 weights) and the bias (float64).
    g = _layer_generator(seed, layer, device)
    W = torch.randn((n_seeds, n_out, n_in), generator=g, device=device)
    b = torch.randn((n_seeds, n_out, 1), generator=g, device=device).to(torch.float64)
    return W, math.sqrt(sigma_w2 / n_in), b * math.sqrt(sigma_b2)


def _product(W: torch.Tensor, scale: float, x: torch.Tensor) -> torch.Tensor:
    # scale * W @ x: the product in float32 (rounding ~1e-7 relative, far below the 1/sqrt(N)
    # fluctuations measured), the result in float64.
    return torch.bmm(W, x.to(torch.float32)).to(torch.float64) * scale


def _simulate_impl(
    activation: ActivationLike = "tanh",
    *,
    sigma_w2: float,
    sigma_b2: float,
    width: int,
    depth: int,
    q0: float,
    c0: float,
    n_seeds: int,
    seed: int,
    backward: bool = False,
    device: torch.device | str | None = None,
) -> Simulation:
    """Propagate two inputs through ``n_seeds`` random networks of width ``N`` (one batched
    computation).

    ``h^1 = W^1 x + b^1``, ``h^l = W^l phi(h^{l-1}) + b^l`` with ``W_ij ~ N(0, sigma_w^2 / N)``,
    ``b_i ~ N(0, sigma_b^2)`` (Poole et al. 2016). The inputs have ``|x|^2 / N = q0`` and cosine
    ``c0``. Measured per layer and network: ``q_a = |h_a|^2 / N``, ``q_b``, and
    ``c = h_a . h_b / (|h_a| |h_b|)``. With ``backward=True`` also ``grad = |delta^l|^2 / N`` for
    ``delta^l = dE / dh_a^l`` and the readout ``E = v . h_a^L``, ``v ~ N(0, I)``; in the mean-field
    limit ``E|delta^l|^2 = chi_1 E|delta^{l+1}|^2`` (Schoenholz et al. 2017). Weights are drawn per
    layer from a generator seeded by ``(seed, layer)`` in float32, multiplied in float32 (rounding
    ~1e-7 relative, far below the ``1/sqrt(N)`` fluctuations measured) with the kernels accumulated
    in float64, and regenerated for the backward pass (no ``depth x N^2`` memory).

    Args:
        activation: name or torch function.
        sigma_w2: weight variance (> 0).
        sigma_b2: bias variance (>= 0).
        width: N, an integer in [2, MAX_WIDTH] (also the input dimension).
        depth: L, an integer in [1, MAX_DEPTH].
        q0: input length (finite, > 0).
        c0: input cosine in [-1, 1].
        n_seeds: number of independent networks (batch dimension).
        seed: integer seed.
        backward: also measure gradient norms.
        device: torch device (default CPU).

    Returns:
        :class:`Simulation` with arrays of shape ``(n_seeds, depth)``.

    Raises:
        TypeError, ValueError: for arguments of the wrong kind or out of range, and for sizes whose
            arrays would exceed ``dltheory._checks.MAX_ELEMENTS`` numbers.

    Example:
        >>> out = simulate(
        ...     sigma_w2=1.5, sigma_b2=0.05, width=64, depth=3, q0=1.0, c0=0.5, n_seeds=2, seed=0
        ... )
        >>> out.c.shape
        (2, 3)
    """
    act = get_activation(activation)
    sw, sb = _variances(sigma_w2, sigma_b2)
    N = checks.integer("width", width, low=2, high=MAX_WIDTH)
    L = checks.integer("depth", depth, low=1, high=MAX_DEPTH)
    S = checks.integer("n_seeds", n_seeds, low=1, high=1_000_000)
    seed = checks.seed(seed)
    q0, c0 = _pair_input(q0, c0)
    backward = checks.boolean("backward", backward)
    checks.size("n_seeds x width^2 (one layer's weights)", S * N * N)
    checks.size("n_seeds x depth x width x 2 (the stored pre-activations)", S * L * N * 2)
    if device is not None and not isinstance(device, (str, torch.device)):
        raise TypeError(
            f"device must be a torch.device, a string or None; got {type(device).__name__}"
        )
    g = _layer_generator(seed, 0, device)
    e = torch.linalg.qr(torch.randn((N, 2), generator=g, device=device).to(torch.float64))[0]
    x = math.sqrt(q0 * N) * torch.stack(
        [e[:, 0], c0 * e[:, 0] + math.sqrt(1 - c0**2) * e[:, 1]], dim=1
    )
    h = x.expand(S, N, 2)
    hs = []
    for layer in range(1, L + 1):
        W, s, b = _layer_params(seed, layer, S, N, N, sw, sb, device)
        h = _product(W, s, h if layer == 1 else act.phi(h)) + b
        hs.append(h)
    H = torch.stack(hs, dim=1)  # (S, L, N, 2)
    qa = (H[..., 0] ** 2).mean(-1)
    qb = (H[..., 1] ** 2).mean(-1)
    c = (H[..., 0] * H[..., 1]).mean(-1) / torch.sqrt(qa * qb)
    grad = None
    if backward:
        gv = _layer_generator(seed, L + 1, device)
        delta = torch.randn((S, N), generator=gv, device=device).to(torch.float64)
        grads = [delta]
        for layer in range(L, 1, -1):
            W, s, _ = _layer_params(seed, layer, S, N, N, sw, sb, device)
            delta = (
                act.dphi(H[:, layer - 2, :, 0])
                * _product(W.transpose(1, 2), s, delta.unsqueeze(-1))[..., 0]
            )
            grads.append(delta)
        grads = torch.stack(grads[::-1], dim=1)  # (S, L, N), layer 1..L
        grad = (grads**2).mean(-1).cpu().numpy()
    return Simulation(q_a=qa.cpu().numpy(), q_b=qb.cpu().numpy(), c=c.cpu().numpy(), grad=grad)


def log_rate(values, skip: int = 0) -> float:
    """Least-squares slope of ``log(mean over seeds)`` against layer: the per-layer log growth rate.

    Args:
        values: array ``(n_seeds, depth)`` of positive values (e.g. ``simulate(...).grad``).
        skip: layers to drop at both ends (transients), with ``depth - 2 skip >= 2``.

    Example:
        >>> round(log_rate(np.exp(0.5 * np.arange(10))[None, :]), 12)
        0.5
    """
    v = checks.real_array("values", values, low=0.0, low_open=True, ndim=2)
    skip = checks.integer("skip", skip, low=0, high=max((v.shape[1] - 2) // 2, 0))
    y = np.log(v.mean(0))[skip : v.shape[1] - skip]
    layers = np.arange(y.size)
    return float(np.polyfit(layers, y, 1)[0])


@dataclass(frozen=True)
class DecayFit:
    """Exponential decay ``|x^l - x*| ~ A exp(-l / xi)`` fitted over layers (result
    of :func:`decay_length`).

    Attributes:
        xi: depth scale from the least-squares fit of ``log |mean_seeds x^l - x*|`` against ``l``.
        se: its jackknife standard error over seeds (``nan`` for one seed).
        first, last: the window of layers used (1-based, inclusive).
    """

    xi: float
    se: float
    first: int
    last: int


def _fit_xi(layers, dev) -> np.ndarray:
    """``-1 / slope`` of ``log dev`` against ``layers`` (least squares along the last axis)."""
    y = np.log(dev)
    x = layers - layers.mean()
    slope = ((y - y.mean(-1, keepdims=True)) * x).sum(-1) / (x**2).sum()
    return -1.0 / slope


def decay_length(
    values, fixed_point, *, first: int = 1, last: int | None = None, snr: float = 10.0
) -> DecayFit:
    """Depth scale of the relaxation of ``x^l`` to its fixed point ``x*``, measured over layers.

    Fits ``log |m^l - x*|`` against ``l`` by least squares, where ``m^l`` is the mean of ``x^l``
    over seeds: the measurement of ``xi_q`` (``x = q``) and ``xi_c`` (``x = c``) of Schoenholz et
    al. (2017) in finite networks. The window runs from ``first`` to ``last``; by default ``last``
    is the last layer before ``|m^l - x*|`` first falls below ``snr`` standard errors of ``m^l``
    (the finite-width fluctuations). The standard error of ``xi`` is the jackknife over seeds.

    Args:
        values: ``(n_seeds, depth)`` array of ``x^l`` (layers 1..depth).
        fixed_point: ``x*`` (finite).
        first: first layer of the window (1-based).
        last: last layer of the window (default: from ``snr``).
        snr: signal-to-noise ratio that ends the default window (> 0).

    Returns:
        :class:`DecayFit`.

    Raises:
        ValueError: if the window holds fewer than 3 layers or ``m^l - x*`` changes sign in it.

    Example:
        >>> x = 1 - 0.5 * np.exp(-np.arange(1, 11) / 3.0)
        >>> round(decay_length(np.stack([x, x]), 1.0, first=2, last=9).xi, 9)
        3.0
    """
    v = checks.real_array("values", values, ndim=2)
    x_star = checks.real("fixed_point", fixed_point)
    snr = checks.real("snr", snr, low=0.0, low_open=True)
    S, L = v.shape
    first = checks.integer("first", first, low=1, high=L)
    dev = v.mean(0) - x_star
    if last is None:
        se = v.std(0, ddof=1) / np.sqrt(S) if S > 1 else np.zeros(L)
        low = np.nonzero(np.abs(dev[first - 1 :]) < snr * se[first - 1 :])[0]
        last = first - 1 + (int(low[0]) if low.size else L - first + 1)
    last = checks.integer("last", last, low=1, high=L)
    if last - first < 2:
        raise ValueError(
            f"the window of layers [{first}, {last}] must hold at least 3 layers (the deviation "
            f"from x* falls into the noise too early: more seeds, a wider net or a larger start)"
        )
    window = slice(first - 1, last)
    layers = np.arange(first, last + 1, dtype=float)
    if not (np.all(dev[window] > 0) or np.all(dev[window] < 0)):
        raise ValueError("the seed mean of x^l - x* must keep one sign over the window")
    xi = float(_fit_xi(layers, np.abs(dev[window])))
    if not xi > 0:
        raise ValueError(
            f"values do not decay towards fixed_point over layers [{first}, {last}] (|x^l - x*| "
            f"grows or stays flat), so there is no depth scale; got a fitted xi of {xi:.3g}"
        )
    se = float("nan")
    if S > 1:
        loo = (v.sum(0, keepdims=True) - v) / (S - 1) - x_star
        xs = _fit_xi(layers, np.abs(loo[:, window]))
        se = float(np.sqrt((S - 1) / S * np.sum((xs - xs.mean()) ** 2)))
    return DecayFit(xi=xi, se=se, first=first, last=last)


def fluctuation_theory(
    activation: ActivationLike = "tanh",
    *,
    sigma_w2: float,
    sigma_b2: float,
    width: int,
    depth: int,
    q0: float,
    c0: float,
) -> FluctuationTheory:
    """Mean-field kernel of an input pair and the standard deviations of its finite-width estimates.

    Let ``S^l = (q_aa, q_bb, q_ab)`` be the kernel of layer ``l``. Given layer ``l-1``, the ``N``
    units of layer ``l`` are i.i.d. Gaussian with covariance
    ``K^l = sigma_w^2 mean_i phi(h_i) phi(h_i)^T + sigma_b^2``, itself an average over ``N`` i.i.d.
    units. To leading order in ``1/N``: ``delta K^{l+1} = J^l delta K^l + eps^l``,
    ``Cov(eps) = sigma_w^4 Cov(phi_a^2, phi_b^2, phi_a phi_b) / N``, with ``J`` the Jacobian of the
    mean-field map (Price's theorem: ``dE[f]/dq_aa = E[d^2 f / du_a^2] / 2``,
    ``dE[f] / dq_ab = E[d^2 f / du_a du_b]``), and the measured kernel adds the Wishart sampling
    noise ``Cov(S_ij, S_kl) = (K_ik K_jl + K_il K_jk) / N``. The correlation's variance follows by
    the delta method. Needs phi'' as a function, so the activation must be smooth (not ReLU or hard
    tanh).

    Args:
        activation: smooth activation.
        sigma_w2, sigma_b2: variances.
        width: N.
        depth: L.
        q0, c0: input length and cosine (as in :func:`simulate`).

    Returns:
        :class:`FluctuationTheory` (arrays of shape ``(L,)``).

    Raises:
        ValueError: for a non-smooth activation or bad sizes.

    Example:
        >>> th = fluctuation_theory(sigma_w2=1.5, sigma_b2=0.05, width=1000, depth=5, q0=1.0,
        ...                         c0=0.5)
        >>> round(float(th.sd_q[0] / th.q[0]), 4)   # sqrt(2 / N) at layer 1
        0.0447
    """
    act = get_activation(activation)
    if not act.smooth:
        raise ValueError(
            f"fluctuation_theory needs a smooth activation (phi'' as a function); got {act.name!r}"
        )
    sw, sb = _variances(sigma_w2, sigma_b2)
    N = checks.integer("width", width, low=2, high=MAX_WIDTH)
    L = checks.integer("depth", depth, low=1, high=MAX_DEPTH)
    q0, c0 = _pair_input(q0, c0)
    mf = iterate_maps(act, sw, sb, q0=q0, c0=c0, depth=L)
    q = torch.as_tensor(mf.q)
    c = torch.as_tensor(mf.c)
    r = c * q
    p, dp, d2p = act.phi, act.dphi, act.d2phi
    n2 = 64

    def E2(f):
        return gauss_expect_2d(f, q, q, r.clamp(max=q * (1 - 1e-15)), n=n2)

    # Jacobian of (q_aa, q_bb, q_ab) -> next layer, at every layer (both inputs have the same length
    # q).
    dqq = sw * gauss_expect(lambda u: dp(u) ** 2 + p(u) * d2p(u), q)
    dra = 0.5 * sw * E2(lambda a, b: d2p(a) * p(b))
    drb = 0.5 * sw * E2(lambda a, b: p(a) * d2p(b))
    drr = sw * E2(lambda a, b: dp(a) * dp(b))
    # Covariance of (phi_a^2, phi_b^2, phi_a phi_b).
    m_aa = E2(lambda a, b: p(a) ** 2)
    m_ab = E2(lambda a, b: p(a) * p(b))
    m4 = E2(lambda a, b: p(a) ** 4)
    m22 = E2(lambda a, b: p(a) ** 2 * p(b) ** 2)
    m31 = E2(lambda a, b: p(a) ** 3 * p(b))
    m13 = E2(lambda a, b: p(a) * p(b) ** 3)
    P = torch.zeros(3, 3, dtype=torch.float64)
    sd_q, sd_c = [], []
    for layer in range(L):
        a, b, rr = q[layer], q[layer], r[layer]
        wish = (
            torch.tensor(
                [
                    [2 * a * a, 2 * rr * rr, 2 * a * rr],
                    [2 * rr * rr, 2 * b * b, 2 * b * rr],
                    [2 * a * rr, 2 * b * rr, a * b + rr * rr],
                ],
                dtype=torch.float64,
            )
            / N
        )
        V = P + wish
        grad = torch.tensor(
            [-c[layer] / (2 * a), -c[layer] / (2 * b), 1 / torch.sqrt(a * b)], dtype=torch.float64
        )
        sd_q.append(torch.sqrt(V[0, 0]))
        sd_c.append(torch.sqrt((grad @ V @ grad).clamp_min(0)))
        J = torch.tensor(
            [[dqq[layer], 0, 0], [0, dqq[layer], 0], [dra[layer], drb[layer], drr[layer]]],
            dtype=torch.float64,
        )
        C = torch.tensor(
            [
                [
                    m4[layer] - m_aa[layer] ** 2,
                    m22[layer] - m_aa[layer] ** 2,
                    m31[layer] - m_aa[layer] * m_ab[layer],
                ],
                [
                    m22[layer] - m_aa[layer] ** 2,
                    m4[layer] - m_aa[layer] ** 2,
                    m13[layer] - m_aa[layer] * m_ab[layer],
                ],
                [
                    m31[layer] - m_aa[layer] * m_ab[layer],
                    m13[layer] - m_aa[layer] * m_ab[layer],
                    m22[layer] - m_ab[layer] ** 2,
                ],
            ],
            dtype=torch.float64,
        )
        P = J @ P @ J.T + sw**2 * C / N
    return FluctuationTheory(
        q=mf.q, c=mf.c, sd_q=torch.stack(sd_q).numpy(), sd_c=torch.stack(sd_c).numpy()
    )


@functools.wraps(_simulate_impl)
def simulate(*args, **kwargs):  # noqa: D103  (docstring and signature from the implementation)
    with (
        single_thread()
    ):  # scoped: many small batched products run faster on one thread on a shared CPU
        return _simulate_impl(*args, **kwargs)
