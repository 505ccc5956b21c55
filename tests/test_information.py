"""Tests of the information topic: the surrogate data, the MI estimators, the linear closed form,
the batched network trainer and the experiments' sizes."""

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dltheory.information import data, experiments, linear, network
from dltheory.information import estimators as est

PKG = Path(__file__).resolve().parent.parent / "dltheory" / "information"


# --- the surrogate data set -----------------------------------------------------------------------


def test_surrogate_statistics_are_exact():
    d = data.surrogate()
    assert d.x.shape == (4096, 12) and set(np.unique(d.x)) == {0.0, 1.0}
    assert len({tuple(r) for r in d.x.astype(int)}) == 4096  # every pattern exactly once
    assert int(d.y.sum()) == 2118 and d.p_y1 == 2118 / 4096
    p = 2118 / 4096
    h = -(p * math.log2(p) + (1 - p) * math.log2(1 - p))
    assert data.label_entropy(d.y) == pytest.approx(h, abs=1e-15)
    assert round(data.label_entropy(d.y), 5) == 0.99916
    for k in range(13):
        shell = d.y[d.ones == k]
        assert len(shell) == math.comb(12, k)
        assert int(shell.sum()) == data.SHELL_POSITIVES[k]
    assert [int(d.y[d.ones == k].sum()) for k in (5, 6, 7)] == [60, 532, 732]
    np.testing.assert_allclose(d.p_y1_given_ones[5:8], [0.076, 0.576, 0.924], atol=5e-4)
    assert (d.p_y1_given_ones[:5] == 0).all() and (d.p_y1_given_ones[8:] == 1).all()


def test_surrogate_is_deterministic_and_threshold_has_no_ties():
    a, b = data.surrogate(), data.surrogate()
    np.testing.assert_array_equal(a.y, b.y)
    s = data.score(a.x)
    for k in (5, 6, 7):
        inside = s[a.ones == k]
        pos, neg = inside[a.y[a.ones == k] == 1], inside[a.y[a.ones == k] == 0]
        assert pos.min() - neg.max() > 1e-4  # a strict, robust threshold of the smooth score


# --- binning --------------------------------------------------------------------------------------


def _x_pm1():
    return torch.tensor(2 * data.surrogate().x - 1)


def test_injective_map_has_12_bits_and_constant_has_0():
    d = data.surrogate()
    y = torch.tensor(d.y)
    x = _x_pm1()
    # an injective deterministic map: a random linear map into (-1, 1), binned finely
    w = torch.tensor([2.0**-k for k in range(1, 13)], dtype=torch.float64)[:, None]
    t = torch.tanh(x @ w)  # distinct values, spaced > 2^-13, binned with 2^16 bins
    ixt, ity = est.binned_information(t, y, bins=2**16)
    assert float(ixt) == pytest.approx(12.0, abs=1e-12)
    assert float(ity) == pytest.approx(data.label_entropy(d.y), abs=1e-12)  # T determines Y
    ixt, ity = est.binned_information(x, y, width=0.5)  # the identity, binned: still injective
    assert float(ixt) == pytest.approx(12.0, abs=1e-12)
    ixt, ity = est.binned_information(torch.full((4096, 3), 0.3), y, bins=30)
    assert float(ixt) == 0.0 and float(ity) == 0.0
    kx, ky = est.kde_information(torch.full((4096, 3), 0.3), y, noise_var=1e-3)
    assert abs(float(kx)) < 1e-9 and abs(float(ky)) < 1e-9


def test_binning_entropy_matches_counting_and_is_batched():
    g = torch.Generator().manual_seed(0)
    t = torch.rand(4, 3, 500, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.randint(0, 2, (500,), generator=g)
    ixt, ity = est.binned_information(t, y, bins=5)
    assert ixt.shape == (4, 3)
    for i in range(4):
        for j in range(3):
            idx = np.floor((t[i, j].numpy() + 1) / 2 * 5).clip(0, 4).astype(int)
            rows = [tuple(r) for r in idx]
            _, counts = np.unique(np.array(rows), axis=0, return_counts=True)
            h = stats.entropy(counts, base=2)
            joint = np.unique(np.c_[idx, y.numpy()], axis=0, return_counts=True)[1]
            hy = stats.entropy(np.bincount(y.numpy()), base=2)
            assert float(ixt[i, j]) == pytest.approx(h, abs=1e-12)
            assert float(ity[i, j]) == pytest.approx(
                h + hy - stats.entropy(joint, base=2), abs=1e-12
            )


def test_wide_codes_are_exact_beyond_int64_range():
    # 12 units of width-1e-3 bins on values up to 1e3: 1e6 bins per unit, 1e72 cells in all
    g = torch.Generator().manual_seed(1)
    t = torch.randint(0, 10**6, (300, 12), generator=g).double() * 1e-3
    t[150:] = t[:150]  # each row twice: exactly 150 distinct rows
    ixt, _ = est.binned_information(t + 5e-4, torch.zeros(300, dtype=torch.long), width=1e-3)
    assert float(ixt) == pytest.approx(math.log2(150), abs=1e-12)


def test_adaptive_range_per_batch_entry():
    t = torch.stack([torch.linspace(0, 1, 64), torch.linspace(0, 100, 64)])[:, :, None].double()
    y = torch.zeros(64, dtype=torch.long)
    ixt, _ = est.binned_information(t, y, bins=4, low=0.0, high=torch.tensor([1.0, 100.0]))
    np.testing.assert_allclose(ixt.numpy(), [2.0, 2.0], atol=1e-12)
    ixt, _ = est.binned_information(t, y, bins=4, low=0.0, high=1.0)
    assert float(ixt[1]) < 0.2  # the wide entry clipped into the last bin almost entirely


def test_binning_breaks_data_processing_only_through_discretisation():
    # T2 = T1 exactly would satisfy DPI with equality; a deterministic function of the *binned* T1
    # can only lose information: check H(f(T1_bin)) <= H(T1_bin) on random data (an identity of
    # counting).
    g = torch.Generator().manual_seed(2)
    t1 = torch.rand(2000, 3, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.zeros(2000, dtype=torch.long)
    i1 = est.bin_indices(t1, bins=8)
    h1 = est.entropy_bits(i1[:, 0] * 64 + i1[:, 1] * 8 + i1[:, 2])
    h2 = est.entropy_bits((i1[:, 0] + i1[:, 1]) % 5)
    assert float(h2) <= float(h1) + 1e-12
    assert float(est.binned_information(t1, y, bins=8)[0]) == pytest.approx(float(h1), abs=1e-12)


# --- KDE bounds on Gaussian mixtures --------------------------------------------------------------


@pytest.mark.parametrize("var", [1e-3, 0.05, 0.5, 5.0])
def test_pairwise_bounds_bracket_the_monte_carlo_entropy(var):
    g = torch.Generator().manual_seed(3)
    centres = torch.randn(20, 2, generator=g, dtype=torch.float64)
    lo, up = est.mixture_entropy_bounds(centres, var=var)
    h, se = est.mixture_entropy_mc(centres, var=var, n_samples=40000, seed=4)
    # one-sided z-tests at alpha = 1e-4 (z = 3.72): the true entropy is >= lo and <= up
    z = stats.norm.isf(1e-4)
    assert lo <= h + z * se
    assert up >= h - z * se
    assert lo <= up + 1e-12
    # the mixture entropy lies between one component's entropy and that plus log2 N
    hc = 0.5 * 2 * math.log2(2 * math.pi * math.e * var)
    assert hc - 1e-9 <= lo and up <= hc + math.log2(20) + 1e-9


def test_kde_information_is_the_mixture_bound_minus_the_noise_entropy():
    g = torch.Generator().manual_seed(5)
    t = torch.randn(300, 3, generator=g, dtype=torch.float64) * 0.05
    y = torch.randint(0, 2, (300,), generator=g)
    _, up = est.mixture_entropy_bounds(t, var=1e-3)
    hz = 0.5 * 3 * math.log2(2 * math.pi * math.e * 1e-3)
    ixt, ity = est.kde_information(t, y, noise_var=1e-3)
    assert float(ixt) == pytest.approx(up - hz, abs=1e-10)
    # I(T;Y) = H_up(T) - sum_c p_c H_up(T | Y = c)
    cond = sum(
        (y == c).double().mean() * (est.mixture_entropy_bounds(t[y == c], var=1e-3)[1] - hz)
        for c in (0, 1)
    )
    assert float(ity) == pytest.approx(float(ixt - cond), abs=1e-10)
    # float32 activations are computed in float64; the row subsample is unbiased
    ixt32, _ = est.kde_information(t.float(), y, noise_var=1e-3)
    assert float(ixt32) == pytest.approx(float(ixt), abs=1e-5)
    subs = [float(est.kde_information(t, y, noise_var=1e-3, rows=60, seed=s)[0]) for s in range(40)]
    assert stats.ttest_1samp(subs, float(ixt)).pvalue > 1e-3
    assert max(subs) <= math.log2(300) + 1e-9


def test_kde_separated_clusters_and_bounds():
    d = data.surrogate()
    y = torch.tensor(d.y)
    ixt, ity = est.kde_information(_x_pm1().float(), y, noise_var=1e-3, rows=512)
    assert float(ixt) == pytest.approx(12.0, abs=1e-6)  # patterns at distance >= 2 >> sqrt(1e-3)
    assert float(ity) == pytest.approx(data.label_entropy(d.y), abs=1e-6)


# --- linear closed form ---------------------------------------------------------------------------


def test_gaussian_information_against_an_independent_computation():
    g = torch.Generator().manual_seed(6)
    w = torch.randn(3, 4, 6, generator=g, dtype=torch.float64)
    a = torch.randn(6, 6, generator=g, dtype=torch.float64)
    cov = a @ a.T
    got = linear.gaussian_information(w, noise_var=0.3, sigma_x=cov)
    for k in range(3):
        # entropy difference of two Gaussians, with numpy's slogdet: h(T) - h(T | X)
        c_t = w[k].numpy() @ cov.numpy() @ w[k].numpy().T + 0.3 * np.eye(4)
        ref = 0.5 * (np.linalg.slogdet(c_t)[1] - 4 * math.log(0.3)) / math.log(2)
        assert float(got[k]) == pytest.approx(ref, abs=1e-10)
    s = np.linalg.svd(w[0].numpy(), compute_uv=False)
    assert float(linear.gaussian_information(w[0], noise_var=0.3)) == pytest.approx(
        0.5 * np.log2(1 + s**2 / 0.3).sum(), abs=1e-10
    )


def test_gaussian_information_against_monte_carlo_entropy():
    # I(X;T) = h(T) - h(Z); h(T) of the Gaussian T estimated as the mean of -log2 p(T) over samples
    g = torch.Generator().manual_seed(7)
    w = torch.randn(2, 3, generator=g, dtype=torch.float64)
    c_t = w @ w.T + 0.5 * torch.eye(2, dtype=torch.float64)
    mvn = torch.distributions.MultivariateNormal(torch.zeros(2, dtype=torch.float64), c_t)
    torch.manual_seed(0)
    nll = -mvn.log_prob(mvn.sample((50000,))) / math.log(2)
    h_z = 0.5 * 2 * math.log2(2 * math.pi * math.e * 0.5)
    exact = float(linear.gaussian_information(w, noise_var=0.5))
    p = stats.ttest_1samp(nll.numpy() - h_z, exact).pvalue
    assert p > 1e-3


def test_linear_student_learns_and_information_grows():
    r = experiments.run_linear(n_kde=100)
    assert r.test_error[-1] < 0.5 * r.test_error[0]
    np.testing.assert_allclose(r.ixt, r.ixt_svd, atol=1e-10)
    assert r.ixt[-1] - r.ixt[0] > 1.0


# --- the batched trainer --------------------------------------------------------------------------


def test_hand_written_gradients_match_autograd():
    m = network.BatchedMLP.init(
        [12, 10, 7, 5, 4, 3, 2], ["tanh", "relu", "tanh"], [0, 1, 2], dtype=torch.float64
    )
    g = torch.Generator().manual_seed(8)
    x = torch.randn(3, 40, 12, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (3, 40), generator=g)
    gw, gb = network.gradients(m, x, y)
    ws = [w.clone().requires_grad_(True) for w in m.weights]
    bs = [b.clone().requires_grad_(True) for b in m.biases]
    logits = network.BatchedMLP(tuple(ws), tuple(bs), m.activations).forward(x)[-1]
    loss = sum(torch.nn.functional.cross_entropy(logits[k], y[k]) for k in range(3))
    auto = torch.autograd.grad(loss, ws + bs)
    for a, b in zip(auto, gw + gb, strict=False):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_batched_adam_matches_torch_adam_for_one_model():
    m = network.BatchedMLP.init([12, 5, 2], ["tanh"], [0], dtype=torch.float64)
    x = _x_pm1()[:64]
    y = torch.tensor(data.surrogate().y[:64])
    idx = torch.arange(64)[None]
    out = network.train_batched(
        m, x, y, train_idx=idx, epochs=5, lr=1e-2, batch_size=None, seeds=[0]
    )
    params = [p[0].clone().requires_grad_(True) for p in (*m.weights, *m.biases)]
    opt = torch.optim.Adam(params, lr=1e-2)
    for _ in range(5):
        h = torch.tanh(x @ params[0] + params[2])
        loss = torch.nn.functional.cross_entropy(h @ params[1] + params[3], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.testing.assert_close(out.weights[0][0], params[0].detach(), rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(out.weights[1][0], params[1].detach(), rtol=1e-9, atol=1e-11)


def test_models_in_a_batch_train_independently():
    x, y = _x_pm1(), torch.tensor(data.surrogate().y)
    kw = dict(epochs=2, lr=1e-3, batch_size=256)
    both = network.BatchedMLP.init([12, 4, 2], ["tanh", "relu"], [0, 1])
    alone = network.BatchedMLP.init([12, 4, 2], ["relu"], [1])
    idx = network.split_indices(4096, 3276, [0, 1])
    a = network.train_batched(both, x, y, train_idx=idx, seeds=[0, 1], **kw)
    b = network.train_batched(alone, x, y, train_idx=idx[1:], seeds=[1], **kw)
    torch.testing.assert_close(a.weights[0][1], b.weights[0][0], rtol=1e-5, atol=1e-6)


def test_log_epochs_and_scale_change_sizes():
    e = network.log_epochs(3000, 30)
    assert e[0] == 0 and e[-1] == 3000 and e == sorted(set(e))
    book, full = experiments.sizes("book"), experiments.sizes("full")
    assert full.epochs > book.epochs >= 3000 and len(full.seeds) > len(book.seeds) >= 3
    assert full.n_record > book.n_record and full.n_kde > book.n_kde
    assert full.linear_epochs > book.linear_epochs
    with pytest.raises(ValueError, match="scale"):
        experiments.sizes("huge")


TINY = {
    "book": experiments.Sizes(
        epochs=4, seeds=(0,), n_record=3, dense_every=2, n_kde=2, kde_rows=16, linear_epochs=10
    ),
    "full": experiments.Sizes(
        epochs=8, seeds=(0, 1), n_record=5, dense_every=2, n_kde=3, kde_rows=32, linear_epochs=20
    ),
}


def test_experiments_follow_the_scale(monkeypatch):
    """The experiment functions take their sizes from the scale (run here at tiny stand-in
    sizes)."""
    monkeypatch.setattr(experiments, "_SIZES", TINY)
    out = {}
    for scale in ("book", "full"):
        nets = experiments.run_bit_networks(scale=scale)
        fb = experiments.run_full_batch(scale=scale)
        lin = experiments.run_linear(scale=scale, n_kde=50)
        sz = TINY[scale]
        for p in (nets.tanh, nets.relu, fb):
            assert p.epochs[-1] == sz.epochs and p.seeds == sz.seeds
            assert (
                p.ixt.shape == (len(p.epochs), len(sz.seeds), 5) and len(p.kde_epochs) <= sz.n_kde
            )
        assert fb.batch_size is None and nets.tanh.batch_size == 256
        assert (
            nets.relu.ixt_adaptive.shape == nets.relu.ixt.shape and nets.tanh.ixt_adaptive is None
        )
        assert nets.tanh.ixt_equal.shape == nets.tanh.ixt.shape and nets.relu.ixt_equal is None
        assert nets.tanh.exact_ixt.shape == nets.tanh.exact_ixt32.shape == nets.tanh.ixt.shape[:2]
        assert lin.epochs[-1] == sz.linear_epochs
        out[scale] = nets
    assert out["full"].tanh.ixt.shape != out["book"].tanh.ixt.shape


def test_figures_draw_from_tiny_runs(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dltheory import figures

    monkeypatch.setattr(experiments, "_SIZES", TINY)
    nets = experiments.run_bit_networks()
    mix = experiments.run_mixture_bounds(n_components=4, n_samples=500)
    cases = [
        (experiments.plot_planes, nets),
        (experiments.plot_relu_binning, nets),
        (experiments.plot_estimators, experiments.EstimatorComparison(mixture=mix, nets=nets)),
        (experiments.plot_full_batch, experiments.FullBatchComparison(nets.tanh, nets.tanh)),
        (experiments.plot_linear, experiments.run_linear(n_kde=50)),
    ]
    for plot, result in cases:
        with figures.style():
            fig = plot(result)
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.get_axes())
        fig.canvas.draw()  # mathtext in labels and legends must parse
        plt.close(fig)


# --- the layout rule ------------------------------------------------------------------------------


def test_theory_modules_do_not_import_matplotlib_or_figures():
    for path in PKG.glob("*.py"):
        if path.name.startswith("experiments") or path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names |= {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names}
        assert not any("matplotlib" in n or n.endswith("figures") for n in names), path.name


# --- bad input ------------------------------------------------------------------------------------

T_OK = torch.zeros(10, 2)
Y_OK = torch.zeros(10, dtype=torch.long)


@settings(max_examples=30, deadline=None)
@given(st.integers(max_value=0))
def test_bins_must_be_positive(bins):
    with pytest.raises(ValueError, match="bins"):
        est.binned_information(T_OK, Y_OK, bins=bins)


@settings(max_examples=30, deadline=None)
@given(st.one_of(st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf"))))
def test_noise_variance_and_width_must_be_positive(v):
    with pytest.raises(ValueError, match="noise_var"):
        est.kde_information(T_OK, Y_OK, noise_var=v)
    with pytest.raises(ValueError, match="width"):
        est.binned_information(T_OK, Y_OK, width=v)
    with pytest.raises(ValueError, match="noise_var"):
        linear.gaussian_information(torch.ones(2, 2), noise_var=v)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=0, max_size=1))
def test_activations_of_the_wrong_shape(shape):
    t = torch.zeros(shape)
    for fn in (
        lambda: est.binned_information(t, Y_OK, bins=30),
        lambda: est.kde_information(t, Y_OK),
    ):
        with pytest.raises(ValueError, match="t must"):
            fn()


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 100))
def test_labels_must_be_binary_and_one_per_sample(bad):
    y = Y_OK.clone()
    y[3] = bad
    for fn in (est.binned_information, est.kde_information):
        with pytest.raises(ValueError, match="y must"):
            fn(T_OK, y) if fn is est.kde_information else fn(T_OK, y, bins=30)
    with pytest.raises(ValueError, match="y must"):
        est.binned_information(T_OK, Y_OK[:-1], bins=30)
    with pytest.raises(ValueError, match="y must"):
        est.kde_information(T_OK, -Y_OK - 1)


def test_wrong_types_are_type_errors():
    with pytest.raises(TypeError, match="bins"):
        est.binned_information(T_OK, Y_OK, bins=2.5)
    with pytest.raises(TypeError, match="t must"):
        est.binned_information("abc", Y_OK, bins=3)
    with pytest.raises(TypeError, match="y must"):
        est.binned_information(T_OK, torch.full((10,), 0.5), bins=3)
    with pytest.raises(ValueError, match="exactly one"):
        est.binned_information(T_OK, Y_OK)
    with pytest.raises(ValueError, match="t must"):
        est.binned_information(torch.full((10, 2), float("nan")), Y_OK, bins=3)
    with pytest.raises(ValueError, match="high must be larger"):
        est.binned_information(T_OK, Y_OK, bins=3, low=1.0, high=0.0)
    with pytest.raises(ValueError, match="activations"):
        network.BatchedMLP.init([12, 2], ["sigmoid"], [0])


# --- Shwartz-Ziv & Tishby's binning, exact entropy, float64 recording, one run per process --------
def test_sz_edges_are_numpy_digitize_of_30_edges():
    rng = np.random.default_rng(0)
    t = np.concatenate([np.tanh(3 * rng.normal(size=(500, 3))), [[1.0, -1.0, 0.0]]])
    idx = est.bin_indices(torch.tensor(t), edges=est.SZ_EDGES).numpy()
    np.testing.assert_array_equal(idx, np.digitize(t, np.linspace(-1, 1, 30)))
    assert idx[-1].tolist() == [30, 1, 15]  # +1.0 has a bin of its own
    with pytest.raises(ValueError, match="exactly one"):
        est.bin_indices(torch.tensor(t), bins=30, edges=est.SZ_EDGES)
    with pytest.raises(ValueError, match="increasing"):
        est.bin_indices(torch.tensor(t), edges=[0.0, 0.0])


def test_exact_entropy_counts_distinct_rows():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(2, 64, 3))
    t[1, :32] = 1.0  # half the rows collapse onto one
    h = est.exact_entropy(torch.tensor(t)).numpy()
    assert h[0] == pytest.approx(6.0) and h[1] == pytest.approx(0.5 * 1 + 0.5 * 6)
    # float32 rounding of a saturated tanh: tanh(10) is 1.0 in float32, not in float64
    z = torch.tensor([[[10.0], [11.0]]], dtype=torch.float64).tanh()
    assert float(est.exact_entropy(z)) == 1.0 and float(est.exact_entropy(z.float())) == 0.0


def test_record_dtype_hands_float64_activations():
    m = network.BatchedMLP.init([2, 3, 2], ["tanh"], [0])
    x, y = torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([0, 1])
    seen = []
    network.train_batched(
        m,
        x,
        y,
        train_idx=torch.tensor([[0, 1]]),
        epochs=1,
        lr=0.1,
        batch_size=None,
        seeds=[0],
        record_epochs=[0],
        on_record=lambda e, h, a, b: seen.append(h[0].dtype),
        record_dtype=torch.float64,
    )
    assert seen == [torch.float64]


def test_bit_networks_are_computed_once_per_process(monkeypatch):
    monkeypatch.setattr(experiments, "_SIZES", TINY)
    a = experiments.run_bit_networks()
    assert experiments.run_bit_networks(device="cpu") is a
    assert experiments.run_full_batch_comparison().minibatch is a.tanh


def test_k_of_n_rule_and_fit_measures():
    assert [experiments.count_verdict(c, 8) for c in (8, 6, 5, 3, 2, 0)] == [
        "holds",
        "holds",
        "seed-dependent",
        "seed-dependent",
        "absent",
        "absent",
    ]
