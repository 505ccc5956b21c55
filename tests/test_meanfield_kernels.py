"""Exact maps for activations with kinks and closed forms (issue 8): ReLU (arc-cosine kernels), erf
(arcsine kernel) and hard tanh (split rule) against closed forms or scipy's adaptive quadrature."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, optimize, special

from dltheory import meanfield as mf
from dltheory.meanfield import reference

C = np.linspace(-1.0, 1.0, 9)
QS = (0.1, 1.0, 3.5)
SW = (0.8, 2.5, 4.0)
SB = (0.0, 0.05, 0.3)


def relu_map(c, sw, sb, q):
    k = (np.sqrt(1 - c**2) + (np.pi - np.arccos(c)) * c) / (2 * np.pi)
    return (sw * q * k + sb) / q


def erf_map(c, sw, sb, q):
    return (sw * 2 / np.pi * np.arcsin(2 * q * c / (1 + 2 * q)) + sb) / q


@pytest.mark.parametrize("q", QS)
@pytest.mark.parametrize("sw", SW)
@pytest.mark.parametrize("sb", SB)
def test_closed_form_maps_relu_erf(q, sw, sb):
    np.testing.assert_allclose(
        mf.correlation_map("relu", C, sw, sb, q=q), relu_map(C, sw, sb, q), atol=1e-10
    )
    np.testing.assert_allclose(
        mf.correlation_map("erf", C, sw, sb, q=q), erf_map(C, sw, sb, q), atol=1e-10
    )
    assert mf.length_map("relu", q, sw, sb) == pytest.approx(sw * q / 2 + sb, abs=1e-10)
    erf_len = sw * 2 / np.pi * np.arcsin(2 * q / (1 + 2 * q)) + sb
    assert mf.length_map("erf", q, sw, sb) == pytest.approx(erf_len, abs=1e-10)


def _brentq_cstar(f):
    """Stable fixed point c* < 1 of a correlation map f by brentq on [0, 1 - 1e-9] (f(0) > 0
    chaotic)."""
    return optimize.brentq(lambda c: f(c) - c, -1 + 1e-12, 1 - 1e-7, xtol=1e-15, rtol=1e-15)


@pytest.mark.parametrize("sw", (2.5, 4.0))
@pytest.mark.parametrize("sb", (0.0, 0.05, 0.3))
def test_erf_cstar_chi_c_and_relu_chi_c(sw, sb):
    # erf: q* by brentq on the closed-form length map, c* by brentq on the closed-form correlation
    # map
    q = optimize.brentq(
        lambda x: sw * 2 / np.pi * np.arcsin(2 * x / (1 + 2 * x)) + sb - x, 1e-3, 100, xtol=1e-15
    )
    assert mf.q_star("erf", sw, sb) == pytest.approx(q, abs=1e-10)
    cs = _brentq_cstar(lambda c: erf_map(c, sw, sb, q))
    assert mf.c_star("erf", sw, sb) == pytest.approx(cs, abs=1e-10)
    slope = sw * 4 / np.pi / np.sqrt((1 + 2 * q) ** 2 - 4 * q**2 * cs**2)
    assert mf.chi_c("erf", sw, sb) == pytest.approx(slope, abs=1e-10)
    # relu, ordered (sigma_w2 < 2): c* = 1 and chi_c = chi_1 = sigma_w2 / 2 exactly
    assert mf.c_star("relu", sw / 2.5, sb + 0.01) == 1.0
    assert mf.chi_c("relu", sw / 2.5, sb + 0.01) == pytest.approx(sw / 5, abs=1e-12)


def _clip_mean(m, s):
    """E[clip(X, -1, 1)] and P(|X| < 1) for X ~ N(m, s^2), s > 0 (closed forms)."""
    a, b = (-1 - m) / s, (1 - m) / s
    Phi = lambda x: 0.5 * special.erfc(-x / math.sqrt(2))  # noqa: E731
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    inside = m * (Phi(b) - Phi(a)) + s * (pdf(a) - pdf(b))
    return inside + (1 - Phi(b)) - Phi(a), Phi(b) - Phi(a)


def _hard_tanh_pair(q, c, deriv=False):
    """E[g(u1) g(u2)] with g = hard tanh (or its derivative): inner integral closed form, outer
    scipy quad."""
    sq, s = math.sqrt(q), math.sqrt(max(1 - c * c, 0.0))

    def outer(z):
        u1 = sq * z
        if s == 0:
            inner = (1.0 if abs(c * u1) < 1 else 0.0) if deriv else max(-1.0, min(1.0, c * u1))
        else:
            inner = _clip_mean(sq * c * z, sq * s)[1 if deriv else 0]
        g1 = (1.0 if abs(u1) < 1 else 0.0) if deriv else max(-1.0, min(1.0, u1))
        return g1 * inner * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    pts = sorted({-1 / sq, 1 / sq})
    edges = [-12.0, *[p for p in pts if abs(p) < 12], 12.0]
    return sum(
        integrate.quad(outer, a, b, epsabs=1e-13, epsrel=1e-13, limit=200)[0]
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    )


@pytest.mark.parametrize("q", QS)
def test_hard_tanh_maps_against_scipy(q):
    sw, sb = 2.0, 0.1
    for c in C[::2]:
        ref = (sw * _hard_tanh_pair(q, c) + sb) / q
        assert mf.correlation_map("hard_tanh", c, sw, sb, q=q) == pytest.approx(ref, abs=1e-8)
    ref_len = sw * reference.expect(lambda u: max(-1.0, min(1.0, u)) ** 2, q, points=(-1, 1)) + sb
    assert mf.length_map("hard_tanh", q, sw, sb) == pytest.approx(ref_len, abs=1e-10)


def test_hard_tanh_cstar_chi_c_and_xi_q_against_scipy():
    sw, sb = 3.0, 0.1
    q = mf.q_star("hard_tanh", sw, sb)
    ref_q = optimize.brentq(
        lambda x: (
            sw * reference.expect(lambda u: max(-1.0, min(1.0, u)) ** 2, x, points=(-1, 1)) + sb - x
        ),
        0.05,
        10,
        xtol=1e-14,
    )
    assert q == pytest.approx(ref_q, abs=1e-9)
    cs = optimize.brentq(
        lambda c: (sw * _hard_tanh_pair(q, c) + sb) / q - c, 0.0, 0.999, xtol=1e-13
    )
    assert mf.c_star("hard_tanh", sw, sb) == pytest.approx(cs, abs=1e-8)
    assert mf.chi_c("hard_tanh", sw, sb) == pytest.approx(
        sw * _hard_tanh_pair(q, cs, deriv=True), abs=1e-8
    )
    # slope of the length map at q* by a central difference of the scipy length map (kink terms
    # included)
    F = lambda x: sw * reference.expect(lambda u: max(-1.0, min(1.0, u)) ** 2, x, points=(-1, 1))  # noqa: E731
    h = 1e-4
    slope = (F(q + h) - F(q - h)) / (2 * h)
    assert mf.xi_q("hard_tanh", sw, sb) == pytest.approx(-1 / math.log(slope), rel=1e-6)


def test_custom_kinked_activation_uses_split_rule():
    act = mf.Activation(
        "my_relu",
        torch.relu,
        lambda x: (x > 0).to(x.dtype),
        torch.zeros_like,
        smooth=False,
        kinks=(0.0,),
    )
    np.testing.assert_allclose(
        mf.correlation_map(act, C, 2.0, 0.0, q=1.0), relu_map(C, 2.0, 0.0, 1.0), atol=1e-12
    )


def test_relu_issue_table():
    got = mf.correlation_map("relu", np.array([0.0, 0.5, 0.9]), 2.0, 0.0, q=1.0)
    np.testing.assert_allclose(got, [0.318310, 0.608998, 0.909538], atol=1e-6)
