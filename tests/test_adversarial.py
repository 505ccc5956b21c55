"""Tests of dltheory.adversarial: hand-derived costates and the first-layer identity against
autograd (float64), exact pass and FLOP counts, the attack's constraints, the scale switch and bad
input."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from dltheory import adversarial as A
from dltheory.adversarial import experiments as E

SIZES = (6, 4, 5, 3)


def _setup(seed=0, S=2, B=7, sizes=SIZES):
    g = torch.Generator().manual_seed(seed)
    params = A.init_mlp(sizes, n_nets=S, seed=seed)
    params = [
        p + 0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params
    ]  # non-zero biases
    x0 = torch.rand(S, B, sizes[0], generator=g, dtype=torch.float64)
    eta = 0.1 * (2 * torch.rand(x0.shape, generator=g, dtype=torch.float64) - 1)
    y = torch.randint(0, sizes[-1], (B,), generator=g)
    return params, x0, eta, y


def _autograd_loss(params, x, y):
    h = x
    L = len(params) // 2
    for l in range(L):
        h = h @ params[2 * l] + params[2 * l + 1]
        h = torch.tanh(h) if l < L - 1 else h
    return A.loss(h, y)


@pytest.mark.parametrize("seed", range(4))
def test_first_layer_costate_gives_input_gradient(seed):
    params, x0, eta, y = _setup(seed)
    e = eta.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(_autograd_loss(params, x0 + e, y), e)
    pmp = A.input_gradient(params, x0, eta, y)
    assert (pmp - auto).abs().max() < 1e-10 * max(1.0, float(auto.abs().max()))
    assert auto.abs().max() > 1e-4  # not a vacuous comparison


@pytest.mark.parametrize("seed", range(3))
def test_costates_and_weight_gradients_match_autograd(seed):
    params, x0, eta, y = _setup(seed)
    states = A.forward(params, x0 + eta)
    ps = A.costates(params, states, y)
    leaves = [s.detach().clone().requires_grad_(True) for s in states]
    # p_l = -dPhi/dx_l: differentiate the loss of the network started at layer l
    L = len(params) // 2
    for l in range(L + 1):
        h = leaves[l]
        for k in range(l, L):
            h = h @ params[2 * k] + params[2 * k + 1]
            h = torch.tanh(h) if k < L - 1 else h
        (g,) = torch.autograd.grad(A.loss(h, y), leaves[l])
        assert (ps[l] + g).abs().max() < 1e-12
    P = [p.clone().requires_grad_(True) for p in params]
    auto = torch.autograd.grad(_autograd_loss(P, x0 + eta, y), P)
    for a, b in zip(A.weight_gradients(params, states, ps), auto, strict=False):
        assert (a - b).abs().max() < 1e-12


@settings(max_examples=15, deadline=None)
@given(K=st.integers(1, 6), m=st.integers(1, 4), n=st.integers(1, 6), B=st.integers(1, 9))
def test_pass_and_flop_counts_are_exact(K, m, n, B):
    params, x0, _, y = _setup(0, S=2, B=B)
    for method, want in (("pgd", (K + 1, 0)), ("yopo", (m, m * (n + 1)))):
        c = A.PassCounter()
        with FlopCounterMode(display=False) as fc:
            A.adversarial_step(
                params,
                x0,
                y,
                method=method,
                epsilon=0.1,
                K=K,
                m=m,
                n=n,
                generator=torch.Generator().manual_seed(0),
                counter=c,
            )
        assert (c.full, c.first_layer) == want
        assert fc.get_total_flops() == A.step_flops(
            SIZES, batch_size=B, n_nets=2, method=method, K=K, m=m, n=n
        )


def test_training_counts_every_minibatch():
    g = torch.Generator().manual_seed(0)
    x, y = (
        torch.rand(20, SIZES[0], generator=g, dtype=torch.float64),
        torch.randint(0, 3, (20,), generator=g),
    )
    c = A.PassCounter()
    A.adversarial_train(
        A.init_mlp(SIZES),
        x,
        y,
        method="pgd",
        epsilon=0.1,
        epochs=3,
        batch_size=6,
        lr=0.1,
        K=4,
        counter=c,
    )
    assert (c.full, c.first_layer) == (3 * 3 * 5, 0)  # 3 epochs x 3 full batches x (K + 1)


def test_attack_respects_budget_and_box_and_increases_loss():
    params, x0, _, y = _setup(1)
    eta = A.pgd_attack(params, x0, y, epsilon=0.05, steps=10)
    assert eta.abs().max() <= 0.05 + 1e-15
    assert ((x0 + eta) >= 0).all() and ((x0 + eta) <= 1).all()
    clean = float(_autograd_loss(params, x0, y))
    assert float(_autograd_loss(params, x0 + eta, y)) > clean
    assert (
        A.robust_accuracy(params, x0, y, epsilon=0.05, steps=5, restarts=2)
        <= A.accuracy(params, x0, y)
    ).all()


def test_training_is_deterministic_and_learns():
    xtr, ytr, xte, yte = E.digits01(dtype=torch.float64)
    p0 = A.init_mlp((64, 16, 10), n_nets=1, seed=0)
    a = A.adversarial_train(
        p0,
        xtr[:256],
        ytr[:256],
        method="yopo",
        epsilon=0.05,
        epochs=3,
        batch_size=32,
        lr=0.1,
        m=2,
        n=2,
        seed=1,
    )
    b = A.adversarial_train(
        p0,
        xtr[:256],
        ytr[:256],
        method="yopo",
        epsilon=0.05,
        epochs=3,
        batch_size=32,
        lr=0.1,
        m=2,
        n=2,
        seed=1,
    )
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=False))
    assert float(A.accuracy(a, xte[None], yte)[0]) > 0.6


def test_scale_changes_sizes(monkeypatch):
    seen = []

    class Stop(Exception):
        pass

    def fake_init(sizes, *, n_nets, **kw):
        seen.append(n_nets)
        raise Stop

    monkeypatch.setattr(E, "init_mlp", fake_init)
    for scale in ("book", "full"):
        with pytest.raises(Stop):
            E.robust_experiment(scale=scale)
    assert seen == [E.SIZES["book"]["n_seeds"], E.SIZES["full"]["n_seeds"]] and seen[1] > seen[0]
    assert E.SIZES["full"]["epochs"] > E.SIZES["book"]["epochs"]


# ------------------------------------------------------------------------------- bad input
@settings(max_examples=25, deadline=None)
@given(eps=st.one_of(st.floats(max_value=0.0), st.just(float("nan"))))
def test_bad_epsilon(eps):
    params, x0, _, y = _setup()
    with pytest.raises(ValueError, match="epsilon"):
        A.pgd_attack(params, x0, y, epsilon=eps, steps=2)
    with pytest.raises(ValueError, match="epsilon"):
        A.adversarial_step(params, x0, y, method="yopo", epsilon=eps, generator=torch.Generator())


@settings(max_examples=25, deadline=None)
@given(k=st.integers(max_value=0))
def test_bad_counts(k):
    params, x0, _, y = _setup()
    with pytest.raises(ValueError, match="K"):
        A.adversarial_step(
            params, x0, y, method="pgd", epsilon=0.1, K=k, generator=torch.Generator()
        )
    with pytest.raises(ValueError, match="m"):
        A.adversarial_step(
            params, x0, y, method="yopo", epsilon=0.1, m=k, generator=torch.Generator()
        )


@settings(max_examples=20, deadline=None)
@given(d=st.integers(1, 20).filter(lambda d: d != SIZES[0]))
def test_mismatched_shapes(d):
    params, x0, eta, y = _setup()
    with pytest.raises(ValueError, match="x must have shape"):
        A.forward(params, torch.zeros(2, 3, d, dtype=torch.float64))
    with pytest.raises(ValueError, match="eta"):
        A.input_gradient(params, x0, torch.zeros(2, 7, d, dtype=torch.float64), y)


def test_bad_method_and_types():
    params, x0, _, y = _setup()
    with pytest.raises(ValueError, match="method"):
        A.adversarial_step(params, x0, y, method="fgsm", epsilon=0.1, generator=torch.Generator())
    with pytest.raises(TypeError):
        A.pgd_attack(params, x0, y, epsilon="0.1", steps=2)
    with pytest.raises(TypeError):
        A.init_mlp(5)
    with pytest.raises(ValueError, match="labels"):
        A.adversarial_train(
            params[:],
            x0[0],
            torch.full((7,), 9),
            method="pgd",
            epsilon=0.1,
            epochs=1,
            batch_size=2,
            lr=0.1,
        )


def test_yopo_gradient_is_the_papers_and_matches_autograd():
    """YOPO-m-n's gradient: layer 0 from H_0 at eta^{j,n} (Zhang et al. 2019, U_2), every layer
    equal to autograd through the same steps; layer 0's differs from the full passes' gradient at
    eta^{j,0}."""
    from dltheory.adversarial import experiments as AE

    r = AE.yopo_gradient_experiment(sizes=(64, 5, 7, 10), n_nets=2, batch_size=9, m=2, n=3, seed=1)
    assert r.max_abs_error < 1e-12 * max(1.0, r.first_layer_scale) + 1e-14
    assert r.full_pass_difference > 1e-3
