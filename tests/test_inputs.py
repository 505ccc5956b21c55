"""Bad input at the public entry points of every topic (issue 20): no hang, no silent NaN, no wrong
answer.

One section per pattern: work limits (each call that used to hang is refused in well under a
second), divergence named by its step size, distributions/grids/matrices that are what they claim,
the families that skipped the checks, dtypes and devices, documented edge behaviour, and messages
that name the user's argument. The same cases, and a sweep over every docstring example, are in
``benchmarks/bad_inputs.py``.
"""

import math
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory import _checks as checks
from dltheory import adversarial as adv
from dltheory import bayes, figures, meta, sgd
from dltheory import control as ctl
from dltheory import dynamics as dyn
from dltheory import information as inf
from dltheory import meanfield as mf
from dltheory.control import lr as clr
from dltheory.control import msa, pmp
from dltheory.information import data as idata

I1, I2 = [[1.0]], [[1.0, 0.0], [0.0, 1.0]]
A3 = np.eye(2)
huge = st.integers(min_value=10**12, max_value=10**15)


def _fast_refusal(call, match):
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        call()
    assert time.perf_counter() - t0 < 1.0, "the refusal must come before any work"


@pytest.fixture(scope="module")
def problem():
    return sgd.make_regression(50, 2, seed=0)


@pytest.fixture(scope="module")
def batched():
    return (
        inf.BatchedMLP.init([12, 5, 2], ["tanh"], [0]),
        torch.rand(8, 12),
        torch.randint(0, 2, (8,)),
    )


@pytest.fixture(scope="module")
def resnet():
    model = pmp.ResNetControl(C=torch.eye(2, 4, dtype=torch.float64), h=0.5)
    W, b = pmp.init_params(T=2, d=4)
    return model, W, b, torch.rand(5, 4, dtype=torch.float64), torch.zeros(5).long()


# 1. work ------------------------------------------------------------------------------------------


def test_work_check_names_the_argument_and_the_limit():
    with pytest.raises(
        ValueError, match=r"^n_steps asks for about 1e\+12 steps x .* limit of 1e\+12 \(dltheory"
    ):
        checks.work("n_steps", 10**12, 10)
    assert checks.work("n_steps", 1000, 10**6) == 1e9


@settings(max_examples=5, deadline=None)
@given(huge)
def test_sgd_simulations_refuse_endless_runs(n):
    _fast_refusal(lambda: sgd.simulate_linear_sgd(I1, I1, 0.1, n_chains=2, n_steps=n), "n_steps")
    _fast_refusal(lambda: sgd.simulate_double_well(0.1, 0.01, n_chains=2, n_steps=n), "n_steps")
    _fast_refusal(lambda: sgd.simulate_escapes([0.25], 0.02, chains=[2], n_steps=n), "n_steps")
    _fast_refusal(
        lambda: sgd.simulate_basin_escapes(I2, [I2], 0.05, 0.05, chains=2, n_steps=n), "n_steps"
    )
    _fast_refusal(lambda: sgd.descend(sgd.TwoBasins(), [0.0], n_steps=n), "n_steps")


def test_listed_hanging_calls_are_refused_at_once(problem, batched, resnet):
    model, xb, yb = batched
    cases = [
        (
            "n_steps",
            lambda: sgd.simulate_regression_sgd(problem, 0.01, 5, n_chains=2, n_steps=10**12),
        ),
        (
            "n_steps",
            lambda: bayes.sgld_linreg(
                np.ones((4, 1)),
                np.ones(4),
                sigma=1.0,
                tau=1.0,
                eps=1e-3,
                batch_size=2,
                n_chains=2,
                n_steps=10**12,
                n_keep=1,
            ),
        ),
        (
            "epochs",
            lambda: inf.train_linear_student(
                d_in=2,
                d_hidden=2,
                n_train=4,
                epochs=10**12,
                lr=0.01,
                init_scale=0.1,
                noise_std=0.1,
                record_epochs=[0],
                seed=0,
            ),
        ),
        (
            "epochs",
            lambda: inf.train_batched(
                model,
                xb,
                yb,
                train_idx=torch.arange(8)[None],
                epochs=10**12,
                lr=0.01,
                batch_size=None,
                seeds=[0],
            ),
        ),
        (
            "L",
            lambda: dyn.perturbation_growth(
                torch.zeros(4, 4, dtype=torch.float64),
                torch.ones(3, 4, dtype=torch.float64),
                h=0.1,
                L=10**7,
            ),
        ),
        ("L", lambda: dyn.stability_experiment(L=10**7)),
        ("T", lambda: ctl.riccati(A3, A3, A3, A3, A3, 10**7)),
        ("t_end", lambda: ctl.riccati_ode(A3, A3, A3, A3, A3, t_end=1e6)),
        (
            "n_steps",
            lambda: clr.sme_second_moment(
                lambda t, m: 1.0, t_end=1.0, a=1.0, eta=0.1, sigma=1.0, m0=1.0, n_steps=10**8
            ),
        ),
        ("n_steps", lambda: meta.greedy_optimal_schedule(10**7, a=1.0, eta=0.1, sigma=1.0, m0=1.0)),
        ("t_end", lambda: sgd.hamilton_jacobi(np.zeros(101), np.linspace(-1, 1, 101), 1e5)),
        (
            "depth",
            lambda: mf.jacobian_spectrum(
                "tanh", sigma_w2=1.0, sigma_b2=0.0, width=400, depth=10**5
            ),
        ),
        ("t", lambda: inf.kde_information(torch.rand(10**5, 3), torch.randint(0, 2, (10**5,)))),
        ("n", lambda: inf.log_epochs(10**9, 10**9)),
        (
            "steps",
            lambda: meta.adapt(
                meta.init_net(hidden=8), torch.rand(5, 1), torch.rand(5, 1), alpha=0.01, steps=10**9
            ),
        ),
        ("rho", lambda: msa.msa_train(*resnet, rho=np.zeros(10**8))),
    ]
    for name, call in cases:
        _fast_refusal(call, name)


# 2. divergence ------------------------------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(st.floats(min_value=2.0, max_value=1e6))
def test_linear_sgd_beyond_its_stability_bound_is_refused_up_front(lr):
    with pytest.raises(ValueError, match=r"^lr must be < 2 / lambda_max\(A\)"):
        sgd.simulate_linear_sgd(I1, I1, lr, n_chains=2, n_steps=10)


def test_divergence_names_the_step_size(batched, resnet):
    model, xb, yb = batched
    x = bayes.mixture_data(n=20)
    cases = [
        (
            "eps",
            lambda: bayes.sgld_linreg(
                np.ones((4, 1)),
                np.ones(4),
                sigma=1.0,
                tau=1.0,
                eps=10.0,
                batch_size=2,
                n_chains=2,
                n_steps=200,
                n_keep=1,
            ),
        ),
        ("eps", lambda: bayes.sgld_mixture(x, n_chains=2, eps=[1e10] * 50, n_keep=5)),
        (
            "lr",
            lambda: inf.train_linear_student(
                d_in=2,
                d_hidden=2,
                n_train=4,
                epochs=100,
                lr=100.0,
                init_scale=0.1,
                noise_std=0.1,
                record_epochs=[99],
                seed=0,
            ),
        ),
        (
            "lrs",
            lambda: meta.unroll_quadratic(
                torch.full((2,), 2.0, dtype=torch.float64),
                torch.eye(2, dtype=torch.float64).expand(100, 2, 2),
                torch.ones(100, 2, dtype=torch.float64),
                torch.full((100,), 1e200, dtype=torch.float64),
            ),
        ),
        (
            "betas",
            lambda: inf.train_batched(
                model,
                xb,
                yb,
                train_idx=torch.arange(8)[None],
                epochs=3,
                lr=0.01,
                batch_size=None,
                seeds=[0],
                betas=(math.nan, 0.9),
            ),
        ),
        ("lr", lambda: msa.gradient_train(*resnet, lr=1e300, n_iter=5)),
    ]
    for name, call in cases:
        with pytest.raises(ValueError, match=name):
            call()


# 3. distributions, grids, matrices ----------------------------------------------------------------

weights = st.lists(st.floats(min_value=0.0, max_value=10.0), min_size=2, max_size=6).filter(
    lambda w: abs(sum(w) - 1) > 1e-3
)


@settings(max_examples=30, deadline=None)
@given(weights)
def test_weights_that_do_not_sum_to_one_are_refused(w):
    p = np.full(len(w), 1 / len(w))
    with pytest.raises(ValueError, match=r"^q must be probabilities summing to 1"):
        bayes.kl_divergence(w, p)
    with pytest.raises(ValueError, match=r"^q must be probabilities summing to 1"):
        bayes.tilt(w, np.zeros(len(w)), step=0.1)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.floats(-5, 5), min_size=3, max_size=8, unique=True).filter(lambda g: g != sorted(g))
)
def test_unsorted_grids_are_refused(g):
    with pytest.raises(ValueError, match="theta1_grid must be strictly increasing"):
        bayes.grid_posterior(g, [0.0, 1.0], bayes.mixture_data(n=5))


def test_histogram_mass_above_one_is_refused():
    with pytest.raises(ValueError, match="grid_mass"):
        bayes.histogram_tv(np.zeros((4, 2)), np.full((2, 2), 0.5), [0, 1, 2], [0, 1, 2])


@settings(max_examples=20, deadline=None)
@given(st.floats(min_value=-100, max_value=-1e-6))
def test_indefinite_or_non_symmetric_matrices_are_refused(problem, r):
    with pytest.raises(ValueError, match="R must be positive definite"):
        ctl.lq_cost(np.zeros((2, 1)), np.ones((1, 1)), np.eye(1), [[r]], np.eye(1))
    with pytest.raises(ValueError, match="cov_q must be symmetric"):
        sgd.gaussian_kl([[1.0, 2.0], [0.0, 1.0]], I2)
    with pytest.raises(ValueError, match="precond must be positive definite"):
        sgd.ou_covariance(problem, 0.01, 5, precond=np.zeros((2, 2)))


@settings(max_examples=20, deadline=None)
@given(st.floats(min_value=-10, max_value=0.0))
def test_negative_widths_and_scales_are_refused(batched, v):
    model, xb, yb = batched
    with pytest.raises(ValueError, match="w1"):
        sgd.TwoBasins(w1=v)
    with pytest.raises(ValueError, match="h must be"):
        sgd.double_well(0.0, h=v)
    with pytest.raises(ValueError, match="eps must be"):
        inf.train_batched(
            model,
            xb,
            yb,
            train_idx=torch.arange(8)[None],
            epochs=1,
            lr=0.01,
            batch_size=None,
            seeds=[0],
            eps=v,
        )


@settings(max_examples=20, deadline=None)
@given(st.floats(min_value=1.001, max_value=100) | st.floats(min_value=-100, max_value=-0.001))
def test_multipliers_outside_zero_one_are_refused(u):
    with pytest.raises(ValueError, match="^u must be"):
        clr.sme_second_moment(
            lambda t, m: u, t_end=1.0, a=1.0, eta=0.1, sigma=1.0, m0=1.0, n_steps=10
        )
    with pytest.raises(ValueError, match="^u must be"):
        meta.expected_final_loss([0.5, u], a=1.0, eta=0.1, sigma=1.0, m0=1.0)
    with pytest.raises(ValueError, match="^u must be"):
        meta.unrolled_sgd_loss(
            torch.tensor([0.5, u]),
            a=1.0,
            eta=0.1,
            sigma=1.0,
            m0=1.0,
            n_paths=4,
            generator=torch.Generator(),
        )


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(0.01, 0.99), min_size=1, max_size=5))
def test_non_binary_labels_are_refused(y):
    with pytest.raises(ValueError, match="^y must hold binary labels"):
        idata.label_entropy(y + [1.0])


# 4. families that skipped the checks --------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3), st.sampled_from([-1, 10, 99]))
def test_nets_check_labels_and_shapes(n_wrong, bad_label):
    nets = sgd.init_mlps([0])
    x = torch.rand(4, 64)
    with pytest.raises(ValueError, match="^y must have one label per sample"):
        sgd.loss(nets, x, torch.zeros(4 + n_wrong).long())
    with pytest.raises(ValueError, match=r"^y must be class labels in \[0, 9\]"):
        sgd.accuracy(nets, x, torch.tensor([0, 1, 2, bad_label]))
    with pytest.raises(ValueError, match=r"^x must have shape"):
        sgd.outputs(nets, torch.rand(4, 3))
    with pytest.raises(ValueError, match="^x must hold at least one sample"):
        sgd.accuracy(nets, torch.zeros(0, 64), torch.zeros(0).long())
    with pytest.raises(ValueError, match="^y must have one label per sample"):
        sgd.per_sample_grads(nets, x, torch.tensor([0, 1]))


def test_adversarial_checks_labels_pixels_and_generators():
    p = adv.init_mlp([4, 3, 2], seed=0)
    x, y = torch.rand(1, 5, 4, dtype=torch.float64), torch.tensor([0, 1, 0, 1, 0])
    with pytest.raises(ValueError, match=r"^y must be class labels in \[0, 1\]"):
        adv.accuracy(p, x, torch.full((5,), 5))
    with pytest.raises(ValueError, match=r"^x0 must be in \[0, 1\]"):
        adv.pgd_attack(p, x + 3, y, epsilon=0.1, steps=2)
    with pytest.raises(TypeError, match="^generator must be a torch.Generator"):
        adv.adversarial_step(p, x, y, method="pgd", epsilon=0.1, generator=None)
    with pytest.raises(ValueError, match="^x must hold at least one sample"):
        adv.accuracy(p, torch.zeros(1, 0, 4, dtype=torch.float64), torch.zeros(0).long())


@settings(max_examples=10, deadline=None)
@given(st.floats(max_value=0.0) | st.just(math.nan) | st.just(math.inf))
def test_maml_adapt_checks_its_step(alpha):
    p = meta.init_net(hidden=8)
    with pytest.raises(ValueError, match="^alpha must be"):
        meta.adapt(p, torch.rand(5, 1), torch.rand(5, 1), alpha=alpha, steps=1)


def test_maml_checks_params_steps_and_targets():
    p, x = meta.init_net(hidden=8), torch.rand(5, 1)
    with pytest.raises(ValueError, match="^steps must be"):
        meta.adapt(p, x, torch.rand(5, 1), alpha=0.01, steps=-1)
    with pytest.raises(ValueError, match=r"^y must have shape \(5, 1\)"):
        meta.adapt(p, x, torch.rand(3, 1), alpha=0.01, steps=1)
    with pytest.raises(ValueError, match="^params must be a dict with the keys"):
        meta.net({"w": torch.ones(1)}, x)
    with pytest.raises(ValueError, match="^inner_steps must be"):
        meta.maml_train(p, n_iter=1, inner_steps=-1)


def test_figures_refuse_bad_ids_figures_and_data(tmp_path):
    with pytest.raises(ValueError, match="unknown figure id"):
        figures.label("not an id")
    with pytest.raises(TypeError, match="^fig must be a matplotlib Figure"):
        figures.fingerprint("not a figure")


# 5. dtypes and devices ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
def test_integer_dtypes_are_refused(dtype):
    for call in (
        lambda: mf.hermite_rule(8, dtype=dtype),
        lambda: sgd.load_digits(dtype=dtype),
        lambda: sgd.init_mlps([0], dtype=dtype),
    ):
        with pytest.raises(ValueError, match="^dtype must be a floating dtype"):
            call()


def test_devices_go_through_the_device_rules():
    with pytest.raises(ValueError, match="^device='tpu' is not"):
        mf.load_digits_tensor(device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(
            ValueError, match="^device='cuda' was requested but CUDA is not available"
        ):
            dyn.euler_convergence(device="cuda")
    p = adv.init_mlp([4, 3, 2], seed=0)
    with pytest.raises(ValueError, match="^x is on device meta"):
        adv.forward(p, torch.empty(1, 5, 4, dtype=torch.float64, device="meta"))


# 6. documented behaviour at the edges -------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(st.floats(min_value=2.5, max_value=10.0))
def test_chaotic_relu_length_becomes_inf_without_nan(sw):
    t = mf.iterate_maps("relu", sw, 0.0, 1.0, 0.5, 3000)
    assert not np.isnan(t.q).any() and not np.isnan(t.c).any()


def test_edges():
    with pytest.raises(ValueError, match="do not decay"):
        mf.decay_length(np.exp(np.arange(20) * 0.1)[None].repeat(2, 0), 0.0)
    L = sgd.TwoBasins()
    with pytest.raises(ValueError, match=r"^y_range must be a pair \(low, high\) with low < high"):
        sgd.local_entropy(L, np.array([0.0]), 1.0, y_range=(10.0, -10.0))
    with pytest.raises(ValueError, match="^x must be in"):
        sgd.local_entropy(L, np.array([100.0]), 1.0)
    with pytest.raises(ValueError, match="^counts must hold at least one escape"):
        sgd.rate_ratio_interval(sgd.EscapeCounts(np.array([0.0, 3.0]), np.ones(2)), 0, 1)
    with pytest.raises(ValueError, match="^target must be a nonzero matrix"):
        bayes.linreg_stationary_bias(I2, np.zeros((2, 2)))


def test_callbacks_that_return_nan_are_named():
    with pytest.raises(ValueError, match="^field returned NaN"):
        dyn.residual_stack(lambda t, x: x * math.nan, torch.ones(2), T=1.0, L=4)
    with pytest.raises(ValueError, match="^activation returned NaN"):
        mf.length_map(lambda z: z * math.nan, 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="^u returned NaN"):
        clr.sme_second_moment(
            lambda t, m: math.nan, t_end=1.0, a=1.0, eta=0.1, sigma=1.0, m0=1.0, n_steps=10
        )


# 7. messages --------------------------------------------------------------------------------------


def test_messages_name_the_users_argument(problem, tmp_path):
    with pytest.raises(ValueError, match="^centres must have shape"):
        inf.mixture_entropy_bounds(torch.zeros(0, 2), var=1.0)
    with pytest.raises(ValueError, match="^eps must hold at least one sample"):
        bayes.sgld_mixture(bayes.mixture_data(n=20), n_chains=2, eps=[], n_keep=5)
    with pytest.raises(ValueError, match="^precond must be positive definite"):
        sgd.exact_sgd_covariance(problem, 0.01, 5, precond=np.zeros((2, 2)))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError, match="a-file"):
        figures.save("sgd/stationary-covariance", blocker / "sub")


def test_cli_refuses_an_empty_out(capsys):
    from dltheory.__main__ import main

    assert main(["figures", "build", "sgd/stationary-covariance", "--out", ""]) == 2
    assert "--out must name a folder" in capsys.readouterr().err
