"""Finite-width random networks against mean field theory: forward kernels, their fluctuations, gradients.

:func:`simulate` propagates a pair of inputs through random tanh (or any) networks of finite width, batched
over seeds, and optionally backpropagates a random readout to measure gradient norms layer by layer.
:func:`fluctuation_theory` predicts the size of the finite-width fluctuations of the measured length and
correlation around the mean-field recursion, to leading order in ``1/N`` (linear-noise approximation).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from dltheory.meanfield._threads import single_thread
from dltheory.meanfield.activations import get_activation
from dltheory.meanfield.maps import ActivationLike, _params, iterate_maps
from dltheory.meanfield.quadrature import gauss_expect, gauss_expect_2d

__all__ = ["simulate", "fluctuation_theory", "log_rate"]


def _int(x, name: str, low: int) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {x!r}")
    return int(x)


def _scalar(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    return float(x)


def _layer_generator(seed: int, layer: int, device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed) * 1_000_003 + layer)


def _layer_params(seed, layer, n_seeds, n_in, n_out, sigma_w2, sigma_b2, device):
    g = _layer_generator(seed, layer, device)
    W = torch.randn((n_seeds, n_out, n_in), generator=g, device=device).to(torch.float64)
    b = torch.randn((n_seeds, n_out, 1), generator=g, device=device).to(torch.float64)
    return W * math.sqrt(sigma_w2 / n_in), b * math.sqrt(sigma_b2)


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
) -> dict[str, np.ndarray]:
    """Propagate two inputs through ``n_seeds`` random networks of width ``N`` (one batched computation).

    ``h^1 = W^1 x + b^1``, ``h^l = W^l phi(h^{l-1}) + b^l`` with ``W_ij ~ N(0, sigma_w^2 / N)``, ``b_i ~
    N(0, sigma_b^2)`` (Poole et al. 2016). The inputs have ``|x|^2 / N = q0`` and cosine ``c0``. Measured
    per layer and network: ``q_a = |h_a|^2 / N``, ``q_b``, and ``c = h_a . h_b / (|h_a| |h_b|)``. With
    ``backward=True`` also ``grad = |delta^l|^2 / N`` for ``delta^l = dE / dh_a^l`` and the readout ``E = v .
    h_a^L``, ``v ~ N(0, I)``; in the mean-field limit ``E|delta^l|^2 = chi_1 E|delta^{l+1}|^2``
    (Schoenholz et al. 2017, eq. 13). Weights are drawn per layer from a generator seeded by
    ``(seed, layer)``, in float32 and used in float64, and regenerated for the backward pass (no
    ``depth x N^2`` memory).

    Args:
        activation: name or torch function.
        sigma_w2: weight variance (> 0).
        sigma_b2: bias variance (>= 0).
        width: N >= 2 (also the input dimension).
        depth: L >= 1.
        q0: input length (> 0).
        c0: input cosine in [-1, 1].
        n_seeds: number of independent networks (batch dimension).
        seed: integer seed.
        backward: also measure gradient norms.
        device: torch device (default CPU).

    Returns:
        Arrays of shape ``(n_seeds, depth)``: ``q_a``, ``q_b``, ``c`` (and ``grad``).

    Example:
        >>> out = simulate(sigma_w2=1.5, sigma_b2=0.05, width=64, depth=3, q0=1.0, c0=0.5, n_seeds=2, seed=0)
        >>> out["c"].shape
        (2, 3)
    """
    act = get_activation(activation)
    sw, sb = (float(v) for v in _params(_scalar(sigma_w2, "sigma_w2"), _scalar(sigma_b2, "sigma_b2")))
    N, L, S = _int(width, "width", 2), _int(depth, "depth", 1), _int(n_seeds, "n_seeds", 1)
    seed = _int(seed, "seed", 0)
    q0, c0 = _scalar(q0, "q0"), _scalar(c0, "c0")
    if not q0 > 0:
        raise ValueError(f"q0 (input length) must be > 0, got {q0}")
    if not -1 <= c0 <= 1:
        raise ValueError(f"c0 (input cosine) must lie in [-1, 1], got {c0}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    g = _layer_generator(seed, 0, device)
    e = torch.linalg.qr(torch.randn((N, 2), generator=g, device=device).to(torch.float64))[0]
    x = math.sqrt(q0 * N) * torch.stack([e[:, 0], c0 * e[:, 0] + math.sqrt(1 - c0**2) * e[:, 1]], dim=1)
    h = x.expand(S, N, 2)
    hs = []
    for layer in range(1, L + 1):
        W, b = _layer_params(seed, layer, S, N, N, sw, sb, device)
        h = torch.bmm(W, h if layer == 1 else act.phi(h)) + b
        hs.append(h)
    H = torch.stack(hs, dim=1)  # (S, L, N, 2)
    qa = (H[..., 0] ** 2).mean(-1)
    qb = (H[..., 1] ** 2).mean(-1)
    c = (H[..., 0] * H[..., 1]).mean(-1) / torch.sqrt(qa * qb)
    out = {"q_a": qa.cpu().numpy(), "q_b": qb.cpu().numpy(), "c": c.cpu().numpy()}
    if backward:
        gv = _layer_generator(seed, L + 1, device)
        delta = torch.randn((S, N), generator=gv, device=device).to(torch.float64)
        grads = [delta]
        for layer in range(L, 1, -1):
            W, _ = _layer_params(seed, layer, S, N, N, sw, sb, device)
            delta = act.dphi(H[:, layer - 2, :, 0]) * torch.bmm(W.transpose(1, 2), delta.unsqueeze(-1))[..., 0]
            grads.append(delta)
        grads = torch.stack(grads[::-1], dim=1)  # (S, L, N), layer 1..L
        out["grad"] = (grads**2).mean(-1).cpu().numpy()
    return out


def log_rate(values: np.ndarray, skip: int = 0) -> float:
    """Least-squares slope of ``log(mean over seeds)`` against layer: the per-layer log growth rate.

    Args:
        values: array ``(n_seeds, depth)`` of positive values (e.g. ``simulate(...)["grad"]``).
        skip: layers to drop at both ends (transients).

    Example:
        >>> round(log_rate(np.exp(0.5 * np.arange(10))[None, :]), 12)
        0.5
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] - 2 * skip < 2:
        raise ValueError("values must be (n_seeds, depth) with depth - 2 * skip >= 2")
    if not (np.isfinite(v).all() and (v > 0).all()):
        raise ValueError("values must be finite and > 0")
    y = np.log(v.mean(0))[skip : v.shape[1] - skip]
    layers = np.arange(y.size)
    return float(np.polyfit(layers, y, 1)[0])


def fluctuation_theory(
    activation: ActivationLike = "tanh",
    *,
    sigma_w2: float,
    sigma_b2: float,
    width: int,
    depth: int,
    q0: float,
    c0: float,
) -> dict[str, np.ndarray]:
    """Mean-field kernel of an input pair and the standard deviations of its finite-width estimates.

    Let ``S^l = (q_aa, q_bb, q_ab)`` be the kernel of layer ``l``. Given layer ``l-1``, the ``N`` units of
    layer ``l`` are i.i.d. Gaussian with covariance ``K^l = sigma_w^2 mean_i phi(h_i) phi(h_i)^T +
    sigma_b^2``, itself an average over ``N`` i.i.d. units. To leading order in ``1/N``:
    ``delta K^{l+1} = J^l delta K^l + eps^l``, ``Cov(eps) = sigma_w^4 Cov(phi_a^2, phi_b^2, phi_a phi_b) / N``,
    with ``J`` the Jacobian of the mean-field map (Price's theorem: ``dE[f]/dq_aa = E[d^2 f / du_a^2] / 2``,
    ``dE[f] / dq_ab = E[d^2 f / du_a du_b]``), and the measured kernel adds the Wishart sampling noise
    ``Cov(S_ij, S_kl) = (K_ik K_jl + K_il K_jk) / N``. The correlation's variance follows by the delta
    method. Needs phi'' as a function, so the activation must be smooth (not ReLU or hard tanh).

    Args:
        activation: smooth activation.
        sigma_w2, sigma_b2: variances.
        width: N.
        depth: L.
        q0, c0: input length and cosine (as in :func:`simulate`).

    Returns:
        ``q``, ``c`` (mean field, shape ``(L,)``), ``sd_q`` (standard deviation of ``q_a``), ``sd_c``.

    Raises:
        ValueError: for a non-smooth activation or bad sizes.

    Example:
        >>> th = fluctuation_theory(sigma_w2=1.5, sigma_b2=0.05, width=1000, depth=5, q0=1.0, c0=0.5)
        >>> round(float(th["sd_q"][0] / th["q"][0]), 4)   # sqrt(2 / N) at layer 1
        0.0447
    """
    act = get_activation(activation)
    if not act.smooth:
        raise ValueError(f"fluctuation_theory needs a smooth activation (phi'' as a function); got {act.name!r}")
    sw, sb = (float(v) for v in _params(_scalar(sigma_w2, "sigma_w2"), _scalar(sigma_b2, "sigma_b2")))
    N, L = _int(width, "width", 2), _int(depth, "depth", 1)
    mf = iterate_maps(act, sw, sb, q0=q0, c0=c0, depth=L)
    q = torch.as_tensor(mf["q"])
    c = torch.as_tensor(mf["c"])
    r = c * q
    p, dp, d2p = act.phi, act.dphi, act.d2phi
    n2 = 64

    def E2(f):
        return gauss_expect_2d(f, q, q, r.clamp(max=q * (1 - 1e-15)), n=n2)

    # Jacobian of (q_aa, q_bb, q_ab) -> next layer, at every layer (both inputs have the same length q).
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
        K = torch.tensor([[q[layer], r[layer]], [r[layer], q[layer]]], dtype=torch.float64)
        a, b, rr = q[layer], q[layer], r[layer]
        wish = torch.tensor(
            [
                [2 * a * a, 2 * rr * rr, 2 * a * rr],
                [2 * rr * rr, 2 * b * b, 2 * b * rr],
                [2 * a * rr, 2 * b * rr, a * b + rr * rr],
            ],
            dtype=torch.float64,
        ) / N
        V = P + wish
        grad = torch.tensor([-c[layer] / (2 * a), -c[layer] / (2 * b), 1 / torch.sqrt(a * b)], dtype=torch.float64)
        sd_q.append(torch.sqrt(V[0, 0]))
        sd_c.append(torch.sqrt((grad @ V @ grad).clamp_min(0)))
        del K
        J = torch.tensor([[dqq[layer], 0, 0], [0, dqq[layer], 0], [dra[layer], drb[layer], drr[layer]]], dtype=torch.float64)
        C = torch.tensor(
            [
                [m4[layer] - m_aa[layer] ** 2, m22[layer] - m_aa[layer] ** 2, m31[layer] - m_aa[layer] * m_ab[layer]],
                [m22[layer] - m_aa[layer] ** 2, m4[layer] - m_aa[layer] ** 2, m13[layer] - m_aa[layer] * m_ab[layer]],
                [m31[layer] - m_aa[layer] * m_ab[layer], m13[layer] - m_aa[layer] * m_ab[layer], m22[layer] - m_ab[layer] ** 2],
            ],
            dtype=torch.float64,
        )
        P = J @ P @ J.T + sw**2 * C / N
    return {"q": mf["q"], "c": mf["c"], "sd_q": torch.stack(sd_q).numpy(), "sd_c": torch.stack(sd_c).numpy()}


@functools.wraps(_simulate_impl)
def simulate(*args, **kwargs):  # noqa: D103  (docstring and signature from the implementation)
    with single_thread():  # scoped: many small batched products run faster on one thread on a shared CPU
        return _simulate_impl(*args, **kwargs)
