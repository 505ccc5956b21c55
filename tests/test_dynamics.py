"""Tests of dltheory.dynamics against closed forms, exact inverses and the adjoint identity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from dltheory import dynamics as dyn

F64 = torch.float64


# ---------------------------------------------------------------- ResNet = Euler
def test_linear_test_field_has_prescribed_spectrum():
    lam = (-1.0, 0.5, complex(-0.3, 2.0), complex(0.2, 1.0))
    A = dyn.linear_test_field(lam, seed=3)
    got = np.sort_complex(np.linalg.eigvals(A.numpy()))
    want = np.sort_complex(np.array([-1.0, 0.5, -0.3 + 2j, -0.3 - 2j, 0.2 + 1j, 0.2 - 1j]))
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_euler_stack_is_matrix_power_and_rk4_is_taylor_polynomial():
    A = dyn.linear_test_field(seed=0)
    x0 = torch.randn(3, A.shape[0], generator=torch.Generator().manual_seed(1), dtype=F64)
    T, L = 0.7, 13
    h = T / L
    I = torch.eye(A.shape[0], dtype=F64)
    euler = dyn.residual_stack(lambda t, x: x @ A.T, x0, T=T, L=L, method="euler")
    torch.testing.assert_close(
        euler, x0 @ torch.linalg.matrix_power(I + h * A, L).T, rtol=1e-12, atol=1e-12
    )
    # any 4-stage 4th-order RK step on a linear field is the degree-4 Taylor polynomial of expm(hA)
    P = (
        I
        + h * A
        + (h * A) @ (h * A) / 2
        + torch.linalg.matrix_power(h * A, 3) / 6
        + torch.linalg.matrix_power(h * A, 4) / 24
    )
    rk4 = dyn.residual_stack(lambda t, x: x @ A.T, x0, T=T, L=L, method="rk4")
    torch.testing.assert_close(rk4, x0 @ torch.linalg.matrix_power(P, L).T, rtol=1e-12, atol=1e-12)


def test_return_all_shape_and_error_orders():
    A = dyn.linear_test_field(seed=0)
    x0 = torch.ones(2, A.shape[0], dtype=F64)
    states = dyn.residual_stack(lambda t, x: x @ A.T, x0, T=1.0, L=8, return_all=True)
    assert states.shape == (9, 2, A.shape[0])
    depths = [64, 128, 256]
    exact_err = dyn.discretisation_errors(A, x0, T=1.0, depths=depths, method="midpoint")
    assert abs(dyn.fit_loglog_slope(depths, exact_err) + 2) < 0.05


def test_fit_loglog_slope_exact_power_law():
    x = np.array([2.0, 4.0, 8.0, 16.0])
    assert dyn.fit_loglog_slope(x, 3 * x**-1.5) == pytest.approx(-1.5, abs=1e-12)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"T": 0.0, "L": 4}, ValueError, "T must be a finite real number > 0"),
        ({"T": -1.0, "L": 4}, ValueError, "T must be a finite real number > 0"),
        ({"T": 1.0, "L": 0}, ValueError, "L must be an integer >= 1"),
        ({"T": 1.0, "L": 2.5}, TypeError, "L must be an integer >= 1"),
        ({"T": 1.0, "L": 2.0}, TypeError, "L must be an integer >= 1"),
        (
            {"T": 1.0, "L": 4, "method": "heun9"},
            ValueError,
            "unknown method 'heun9'; valid names are 'euler'",
        ),
    ],
)
def test_residual_stack_validates(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        dyn.residual_stack(lambda t, x: x, torch.ones(2, dtype=F64), **kwargs)


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_leading_error_constant_matches_the_error_of_a_deep_stack(method):
    A = dyn.linear_test_field(seed=0)
    x0 = torch.ones(2, A.shape[0], dtype=F64)
    p = dyn.FIXED_SOLVERS[method]
    L = 512 if p < 4 else 128  # truncation error far above round-off
    err = dyn.discretisation_errors(A, x0, T=1.0, depths=[L], method=method)[0]
    C = dyn.leading_error_constant(A, x0, T=1.0, order=p)
    assert err * L**p == pytest.approx(C, rel=0.03)  # correction O(h rho), rho ~ 2


def test_leading_error_constant_scalar_closed_form_and_validation():
    A = torch.tensor([[-2.0]], dtype=F64)
    x0 = torch.ones(1, 1, dtype=F64)
    assert dyn.leading_error_constant(A, x0, T=0.5, order=1) == pytest.approx(0.5 * 4 / 2)
    assert dyn.leading_error_constant(A, x0, T=0.5, order=4) == pytest.approx(0.5 * 32 / 120)
    with pytest.raises(ValueError, match="order must be an integer"):
        dyn.leading_error_constant(A, x0, T=1.0, order=5)
    with pytest.raises(ValueError, match="no zero row"):
        dyn.leading_error_constant(A, torch.zeros(1, 1, dtype=F64), T=1.0, order=1)


def test_discretisation_errors_shape_mismatch():
    A = dyn.linear_test_field(seed=0)
    with pytest.raises(ValueError, match="x0 must have shape"):
        dyn.discretisation_errors(A, torch.ones(2, 3, dtype=F64), T=1.0, depths=[4])
    with pytest.raises(ValueError, match="square matrix"):
        dyn.discretisation_errors(
            torch.ones(2, 3, dtype=F64), torch.ones(2, 3, dtype=F64), T=1.0, depths=[4]
        )


# ---------------------------------------------------------------- stability
def test_antisymmetric_spectrum_and_growth_rate_closed_form():
    K = torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=F64)
    gamma, h = 0.3, 0.2
    W = dyn.antisymmetric_matrix(K, gamma)
    lam = torch.linalg.eigvals(W).numpy()
    np.testing.assert_allclose(lam.real, -gamma, atol=1e-12)
    omega = lam.imag
    v = dyn.stability_analysis(h=h, gamma=gamma, omega=omega)
    want = math.sqrt((1 - h * gamma) ** 2 + h**2 * np.max(omega**2))
    assert v.amplification == pytest.approx(want, rel=1e-13)
    assert v.growth_rate == pytest.approx(math.log(want), rel=1e-12)
    # stable exactly when h (gamma^2 + omega_max^2) <= 2 gamma
    assert (v.verdict == "stable") == (h * (gamma**2 + np.max(omega**2)) < 2 * gamma)


def test_stability_verdicts():
    assert dyn.stability_analysis(h=0.1, gamma=0.5, omega=[1.0]).verdict == "stable"
    assert dyn.stability_analysis(h=0.5, gamma=0.0, omega=[1.0]).verdict == "unstable"
    assert dyn.stability_analysis(h=0.1, gamma=0.0, omega=[0.01]).verdict == "marginal"
    assert dyn.stability_analysis(h=0.1, gamma=-0.5, omega=[0.0]).verdict == "unstable"


def test_linear_antisymmetric_map_norm_equals_predicted_power():
    K = torch.randn(10, 10, generator=torch.Generator().manual_seed(2), dtype=F64) / math.sqrt(10)
    for h, gamma in ((0.1, 0.5), (0.5, 0.0)):
        W = dyn.antisymmetric_matrix(K, gamma)
        M = torch.linalg.matrix_power(torch.eye(10, dtype=F64) + h * W, 50)
        amp = dyn.euler_amplification(torch.linalg.eigvals(W).numpy(), h)
        assert torch.linalg.matrix_norm(M, ord=2).item() == pytest.approx(amp**50, rel=1e-10)


def test_perturbation_growth_linear_matches_power_along_eigenvector():
    # for a normal W and the linear activation, a perturbation along the top eigen-plane grows as
    # amp^j
    K = torch.randn(4, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    W = dyn.antisymmetric_matrix(K, 0.2)
    h = 0.3
    lam, V = torch.linalg.eig(W)
    k = int(torch.argmax((1 + h * lam).abs()))
    d0 = V[:, k].real.unsqueeze(0)
    g = dyn.perturbation_growth(
        W, torch.zeros(1, 4, dtype=F64), h=h, L=20, activation="linear", delta0=d0
    )
    amp = float((1 + h * lam[k]).abs())
    np.testing.assert_allclose(g[:, 0].numpy(), amp ** np.arange(21), rtol=1e-10)


def test_stability_validation():
    with pytest.raises(ValueError, match="h must be a finite real number > 0"):
        dyn.stability_analysis(h=0.0, gamma=0.1, omega=[1.0])
    with pytest.raises(ValueError, match="omega must be non-empty"):
        dyn.stability_analysis(h=0.1, gamma=0.1, omega=[])
    with pytest.raises(ValueError, match="unknown activation 'relu6'"):
        dyn.perturbation_growth(
            torch.eye(2, dtype=F64), torch.zeros(1, 2, dtype=F64), h=0.1, L=2, activation="relu6"
        )
    with pytest.raises(ValueError, match="does not match W"):
        dyn.perturbation_growth(torch.eye(2, dtype=F64), torch.zeros(1, 3, dtype=F64), h=0.1, L=2)
    with pytest.raises(ValueError, match="square matrix"):
        dyn.antisymmetric_matrix(torch.ones(2, 3), 0.1)


# ---------------------------------------------------------------- reversibility
def test_hamiltonian_inverse_is_exact():
    p = dyn.hamiltonian_params(d=5, L=100, seed=1)
    g = torch.Generator().manual_seed(0)
    y0, z0 = torch.randn(7, 5, generator=g, dtype=F64), torch.randn(7, 5, generator=g, dtype=F64)
    y, z = dyn.hamiltonian_forward(y0, z0, p, h=0.1)
    assert (y - y0).norm() > 0.1  # the map is far from the identity
    yr, zr = dyn.hamiltonian_inverse(y, z, p, h=0.1)
    torch.testing.assert_close(yr, y0, rtol=0, atol=1e-12)
    torch.testing.assert_close(zr, z0, rtol=0, atol=1e-12)


def test_hamiltonian_block_is_volume_preserving():
    # each leapfrog block is a composition of shears: its Jacobian has determinant 1
    p = dyn.hamiltonian_params(d=3, L=4, seed=2)
    x0 = torch.randn(6, generator=torch.Generator().manual_seed(3), dtype=F64)
    J = torch.autograd.functional.jacobian(
        lambda x: torch.cat(dyn.hamiltonian_forward(x[:3], x[3:], p, h=0.3)), x0
    )
    assert torch.linalg.det(J).item() == pytest.approx(1.0, abs=1e-12)


def test_reversibility_experiment_gradients_from_recomputed_activations():
    r = dyn.reversibility_experiment(L=20, n=8)
    assert r.error < 1e-12 and r.grad_error < 1e-12


def test_hamiltonian_validation():
    p = dyn.hamiltonian_params(d=2, L=2)
    with pytest.raises(ValueError, match="y and z must share a shape"):
        dyn.hamiltonian_forward(torch.ones(3, dtype=F64), torch.ones(3, dtype=F64), p, h=0.1)
    with pytest.raises(ValueError, match="h must be a finite real number > 0"):
        dyn.hamiltonian_inverse(torch.ones(2, dtype=F64), torch.ones(2, dtype=F64), p, h=-0.1)
    with pytest.raises(ValueError, match="params lacks"):
        dyn.hamiltonian_forward(
            torch.ones(2, dtype=F64), torch.ones(2, dtype=F64), {"K1": p["K1"]}, h=0.1
        )


# ---------------------------------------------------------------- neural ODEs and the adjoint
def test_adjoint_gradient_equals_backprop_through_solver():
    r = dyn.adjoint_vs_backprop(hidden=8, n=8, rtol=1e-10, atol=1e-10)
    assert r.rel_diff < 1e-7
    assert r.nfe_adjoint > 0 and r.nfe_forward > 0


def test_adjoint_state_of_linear_field_is_transposed_exponential():
    # for f = A z the adjoint is a(t) = expm(A^T (T - t)) a(T)
    A = dyn.linear_test_field((-0.5, complex(0.1, 1.0)), seed=0)
    z0 = torch.tensor([1.0, -0.5, 0.3], dtype=F64)
    aT = torch.tensor([0.2, 1.0, -1.0], dtype=F64)
    t, a = dyn.adjoint_state(lambda t, z: z @ A.T, z0, T=1.5, aT=aT, n_times=7)
    want = np.stack([scipy.linalg.expm(A.numpy().T * (1.5 - s)) @ aT.numpy() for s in t.numpy()])
    np.testing.assert_allclose(a.numpy(), want, rtol=1e-8, atol=1e-9)


def test_hand_derived_vjp_matches_autograd():
    f = dyn.ODEFunc(3, 8, seed=0, dtype=F64)
    g = torch.Generator().manual_seed(1)
    z, a = torch.randn(5, 3, generator=g, dtype=F64), torch.randn(5, 3, generator=g, dtype=F64)
    t = torch.tensor(0.3, dtype=F64)
    zz = z.clone().requires_grad_()
    want = torch.autograd.grad(f(t, zz), zz, a)[0]
    torch.testing.assert_close(f.vjp(t, z, a), want, rtol=1e-12, atol=1e-12)


def test_backprop_deltas_are_the_hand_derived_adjoint_recursion():
    f = dyn.ODEFunc(3, 8, seed=0, dtype=F64)
    x0 = torch.ones(4, 3, dtype=F64)
    auto = dyn.backprop_deltas(f, x0, T=1.0, L=16, loss=lambda x: (x**3).sum())
    xs = dyn.euler_states(f, x0, T=1.0, L=16)
    rec = dyn.adjoint_recursion(f.vjp, xs, 3 * xs[-1] ** 2, T=1.0)
    torch.testing.assert_close(auto, rec, rtol=1e-12, atol=1e-12)
    # the check can fail: a VJP that forgets tanh' = 1 - tanh^2 gives different deltas
    W1, W2 = f.l1.weight.detach()[:, :3], f.l2.weight.detach()
    wrong = dyn.adjoint_recursion(lambda t, x, a: (a @ W2) @ W1, xs, 3 * xs[-1] ** 2, T=1.0)
    assert ((wrong - auto).norm(dim=-1) / auto.norm(dim=-1)).max() > 1e-3


def test_costate_experiment_recursion_is_independent_of_autograd():
    r = dyn.costate_experiment(depths=(8, 16))
    assert 0 <= r.recursion_error < 1e-12 and r.a0_vs_grad < 1e-6


def test_adjoint_reconstruction_is_a_tolerance_effect():
    X, y = dyn.make_dataset("moons", n=32, seed=0)
    m = dyn.NeuralODEClassifier(seed=0)
    r = dyn.adjoint_reconstruction(m, X, y, tight=1e-9)
    # tightening the tolerance shrinks the round-trip error by orders of magnitude
    assert r.error_tight < 1e-5 and r.error_tight < 1e-2 * r.error_max
    assert r.forward_error <= r.error_max * 10 and r.amplification >= r.amplification_worst > 0
    assert 0 <= r.grad_diff_exact < 1 and r.rtol == 1e-3
    with pytest.raises(ValueError, match="adaptive solver"):
        dyn.adjoint_reconstruction(dyn.NeuralODEClassifier(method="euler"), X, y)


def test_classifier_shapes_augmentation_and_nfe_counter():
    m = dyn.NeuralODEClassifier(dim=2, augment=2, method="rk4", steps=5, adjoint=False, seed=0)
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    assert m(x).shape == (6,)
    traj = m.flow(x, n_times=3)
    assert traj.shape == (3, 6, 4)
    torch.testing.assert_close(
        traj[0, :, 2:], torch.zeros(6, 2)
    )  # augmented dimensions start at zero
    m.func.reset_nfe()
    m(x)
    assert m.func.nfe == 4 * 5  # four stages per RK4 step


def test_plain_flow_preserves_winding_number():
    # an (untrained, random) planar flow maps the counter-clockwise unit circle to a loop that still
    # winds +1 times around the image of 0 (homeomorphism and orientation preserving)
    m = dyn.NeuralODEClassifier(
        dim=2, augment=0, hidden=16, rtol=1e-8, atol=1e-8, adjoint=False, seed=4
    )
    th = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    ring = torch.tensor(np.stack([np.cos(th), np.sin(th)], 1), dtype=torch.float32)
    with torch.no_grad():
        loop = m.flow(ring)[-1].numpy()
        centre = m.flow(torch.zeros(1, 2))[-1].numpy()
    assert dyn.winding_numbers(loop, centre)[0] == 1


def test_winding_numbers_closed_form():
    th = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    twice = np.stack([np.cos(2 * th), np.sin(2 * th)], 1)
    np.testing.assert_array_equal(
        dyn.winding_numbers(twice, np.array([[0.1, 0.0], [3.0, 0.0]])), [2.0, 0.0]
    )
    with pytest.raises(ValueError, match="loop must have shape"):
        dyn.winding_numbers(np.zeros((2, 2)), np.zeros((1, 2)))


def test_make_dataset_is_seeded_and_validates():
    X1, y1 = dyn.make_dataset("circles", n=20, seed=5)
    X2, y2 = dyn.make_dataset("circles", n=20, seed=5)
    assert torch.equal(X1, X2) and torch.equal(y1, y2)
    with pytest.raises(
        ValueError, match="unknown name 'spirals'; valid names are 'moons', 'circles'"
    ):
        dyn.make_dataset("spirals")


def test_neural_ode_validation():
    with pytest.raises(ValueError, match="unknown method 'rk45'"):
        dyn.NeuralODEClassifier(method="rk45")
    with pytest.raises(ValueError, match="augment must be an integer >= 0"):
        dyn.NeuralODEClassifier(augment=-1)
    with pytest.raises(ValueError, match="T must be a finite real number > 0"):
        dyn.NeuralODEClassifier(T=0.0)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\)"):
        dyn.NeuralODEClassifier().flow(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="aT must have the shape"):
        dyn.adjoint_state(
            lambda t, z: z, torch.zeros(2, dtype=F64), T=1.0, aT=torch.zeros(3, dtype=F64)
        )
    m = dyn.NeuralODEClassifier(method="euler", adjoint=False)
    with pytest.raises(ValueError, match="one label per sample"):
        dyn.train_classifier(m, torch.zeros(3, 2), torch.zeros(4), iters=1)


def test_experiments_validate_sizes():
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        dyn.reversibility_experiment(n=0)
    with pytest.raises(TypeError, match="n must be an integer >= 1"):
        dyn.euler_convergence(n=2.5)


# -------------------------------------------------------------- layout, scale, issue-10 regressions
THEORY = ("euler", "stability", "reversible", "node", "costate")


@pytest.mark.parametrize("module", THEORY)
def test_theory_modules_do_not_import_plotting_or_the_registry(module):
    import ast
    import pathlib

    import dltheory.dynamics

    path = pathlib.Path(dltheory.dynamics.__file__).parent / f"{module}.py"
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names}
    assert not any(n.split(".")[0] == "matplotlib" for n in names), names
    assert not any(n in ("dltheory.figures", "dltheory.claims") for n in names), names


def test_front_door_exports_only_what_it_lists():
    import dltheory.dynamics as pkg

    assert len(set(pkg.__all__)) == len(pkg.__all__)
    for name in pkg.__all__:
        assert hasattr(pkg, name)


def test_every_experiment_has_two_scales_that_differ():
    for exp, by_scale in dyn.SIZES.items():
        assert set(by_scale) == {"book", "full"}
        assert dyn.sizes(exp, "book") != dyn.sizes(exp, "full"), exp
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        dyn.sizes("moons", "huge")


def test_experiments_read_their_sizes_from_scale(monkeypatch):
    # a small "full" scale, so that the test sees each experiment obey it without running it big
    small = {
        "euler": {"n": 3},
        "stability": {"n": 5},
        "reversibility": {"n": 6, "L": 7},
        "adjoint": {"hidden": 5, "n": 4},
        "moons": {"n": 12, "iters": 2},
        "circles": {"n": 10, "iters": 1, "loop_points": 40},
        "costate": {"depths": (8, 16, 32)},
    }
    for exp, sz in small.items():
        monkeypatch.setitem(dyn.SIZES[exp], "full", sz)
    assert dyn.stability_experiment(scale="full", L=3).n == 5
    assert dyn.stability_experiment(scale="book", L=3).n == 64
    assert dyn.reversibility_experiment(scale="full").L == 7
    assert dyn.reversibility_experiment(scale="full").n == 6
    assert tuple(dyn.costate_experiment(scale="full").depths) == (8, 16, 32)
    m = dyn.moons_experiment(scale="full")
    assert m.X.shape == (12, 2) and m.history.loss.shape == (2,)
    c = dyn.circles_experiment(scale="full")
    assert c.X.shape == (10, 2) and c.loop_image.shape == (40, 2)
    e = dyn.euler_convergence(scale="full", depths=(16, 32))
    assert e.euler.shape == (2,)
    # the real full sizes are larger than the book's
    assert dyn.SIZES["moons"]["book"]["n"] < 1000
    monkeypatch.undo()
    assert dyn.sizes("moons", "full") == {"n": 1000, "iters": 200}
    assert dyn.sizes("stability", "full") == {"n": 1024}


def test_unconstrained_setting_is_unstable_because_the_ode_is():
    r = dyn.stability_experiment(L=5)
    u = r.settings["unconstrained"]
    assert u.max_real_part > 0
    # no step size can stabilise an ODE with Re(lambda) > 0: |1 + h lambda| >= 1 + h Re(lambda)
    assert u.amplification >= 1 + u.h * u.max_real_part - 1e-12
    assert dyn.stability_analysis(h=0.1, gamma=-0.1, omega=[0.0]).ode_stable is False
    assert dyn.stability_analysis(h=0.1, gamma=0.1, omega=[0.0]).ode_stable is True


def test_issue_10_examples_raise_clear_errors():
    A = dyn.linear_test_field(seed=0)
    with pytest.raises(ValueError, match="gamma must be a finite real number"):
        dyn.stability_analysis(h=0.1, gamma=float("nan"), omega=[1.0])
    with pytest.raises(TypeError, match="L must be an integer"):
        dyn.residual_stack(lambda t, x: x, torch.ones(2, dtype=F64), T=1.0, L=2.0)
    with pytest.raises(ValueError, match="no zero row"):
        dyn.discretisation_errors(A, torch.zeros(1, 6, dtype=F64), T=1.0, depths=[4])
    W = dyn.antisymmetric_matrix(torch.eye(3, dtype=F64), 0.1)
    with pytest.raises(ValueError, match="delta0 must have no zero row"):
        dyn.perturbation_growth(
            W, torch.zeros(2, 3, dtype=F64), h=0.1, L=2, delta0=torch.zeros(2, 3, dtype=F64)
        )
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        dyn.make_dataset("moons", n=1)
    with pytest.raises(ValueError, match="rtol must be a finite real number > 0"):
        dyn.NeuralODEClassifier(rtol=-1)
    with pytest.raises(TypeError, match="n_classes"):
        dyn.NeuralODEClassifier(n_classes=3)
    m = dyn.NeuralODEClassifier(method="euler", adjoint=False)
    X, y = dyn.make_dataset("moons", n=8)
    with pytest.raises(ValueError, match="one label per sample"):
        dyn.accuracy(m, X, y[:1])
    with pytest.raises(ValueError, match=r"class labels in \[0, 1\]"):
        dyn.train_classifier(m, X, 5 * y, iters=1)
    with pytest.raises(TypeError, match="X is float64 but the model is float32"):
        dyn.accuracy(m, X.double(), y)
    with pytest.raises(TypeError, match="tensors must share one dtype"):
        dyn.discretisation_errors(A, torch.ones(1, 6), T=1.0, depths=[4])
    with pytest.raises(ValueError, match="more than the limit"):
        dyn.residual_stack(lambda t, x: x, torch.ones(2, dtype=F64), T=1.0, L=10**9)
    with pytest.raises(ValueError, match="more than the limit"):
        dyn.hamiltonian_params(d=10**5, L=100)


def test_lists_are_accepted_where_tensors_are_expected():
    A = dyn.linear_test_field(seed=0)
    x = [[1.0] * 6]
    assert dyn.discretisation_errors(A, x, T=1.0, depths=[8]).shape == (1,)
    W = dyn.antisymmetric_matrix([[0.0, 1.0], [2.0, 0.0]], 0.1)
    assert W.dtype == F64
    g = dyn.perturbation_growth(W.tolist(), [[1.0, 0.0]], h=0.1, L=2)
    assert g.shape == (3, 1)
    m = dyn.NeuralODEClassifier(method="euler", adjoint=False)
    assert m([[0.0, 1.0]]).shape == (1,)
    assert 0.0 <= dyn.accuracy(m, [[0.0, 1.0], [1.0, 0.0]], [0, 1]) <= 1.0


# ------------------------------------------------------------- issue 17: rivals and new experiments
def test_stability_experiment_settings_as_attributes_and_sign_test():
    r = dyn.stability_experiment(L=10)
    assert r.stable is r.settings["antisymmetric, stable"]
    assert r.unstable is r.settings["antisymmetric, unstable"]
    assert r.unconstrained is r.settings["unconstrained"]
    assert r.unstable.tanh_final.shape == (64,)
    # all 64 grow: p = 2^-64; none decays: p = 1
    assert r.unstable.sign_test("grows") == pytest.approx(0.5**64)
    assert r.unstable.sign_test("decays") == pytest.approx(1.0)
    # the rival of the linear check: the ODE's flow, marginal for gamma = 0
    assert r.unstable.ode_gain == pytest.approx(1.0, abs=1e-12)
    assert r.stable.ode_gain == pytest.approx(np.exp(-0.5 * 0.1 * 10))
    with pytest.raises(ValueError, match="direction"):
        r.stable.sign_test("up")


def test_euler_reversal_is_not_the_inverse():
    p = dyn.hamiltonian_params(d=3, L=20, seed=0)
    g = torch.Generator().manual_seed(1)
    y0, z0 = (torch.randn(4, 3, generator=g, dtype=F64) for _ in range(2))
    yL, zL = dyn.hamiltonian_forward(y0, z0, p, h=0.1)
    ye, ze = dyn.hamiltonian_inverse(yL, zL, p, h=0.1)
    yn, zn = dyn.euler_reversal(yL, zL, p, h=0.1)
    assert torch.allclose(ye, y0, atol=1e-12) and torch.allclose(ze, z0, atol=1e-12)
    err = (torch.cat([yn, zn], -1) - torch.cat([y0, z0], -1)).norm(dim=-1).max()
    assert 1e-4 < err < 1.0  # O(h^2) per block, not exact
    r = dyn.reversibility_experiment(L=10, n=4)
    assert r.error < 1e-12 < r.error_naive


def test_train_classifiers_trains_each_model_on_its_own_data():
    X, y = dyn.make_dataset("circles", n=16, seed=0)
    single = dyn.NeuralODEClassifier(seed=3, adjoint=False)
    h1 = dyn.train_classifier(single, X, y, iters=3, lr=0.05)
    batched = [dyn.NeuralODEClassifier(seed=3, adjoint=False)]
    h2 = dyn.train_classifiers(batched, X[None], y[None], iters=3, lr=0.05)[0]
    # one model in a batch is the same training (same steps, same Adam)
    np.testing.assert_allclose(h2.loss, h1.loss, rtol=1e-4)
    for a, b in zip(single.parameters(), batched[0].parameters(), strict=False):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="adjoint=False"):
        dyn.train_classifiers([dyn.NeuralODEClassifier()], X[None], y[None], iters=1)
    with pytest.raises(ValueError, match="share"):
        dyn.train_classifiers(
            [
                dyn.NeuralODEClassifier(adjoint=False),
                dyn.NeuralODEClassifier(augment=1, adjoint=False),
            ],
            torch.stack([X, X]),
            torch.stack([y, y]),
            iters=1,
        )


def test_linear_baseline_cannot_separate_circles_but_nearly_moons():
    Xc, yc = dyn.make_dataset("circles", n=200, seed=0)
    Xm, ym = dyn.make_dataset("moons", n=200, seed=0)
    assert dyn.linear_baseline_accuracy(Xc, yc) < 0.7
    assert 0.8 < dyn.linear_baseline_accuracy(Xm, ym) < 0.95


def test_circles_steps_to_and_seeds():
    c = dyn.circles_experiment(n=16, iters=3, loop_points=40, seeds=(0, 1))
    assert c.seeds == (0, 1) and len(c.plain) == len(c.aug) == 2
    m = c.aug[1]
    assert m.steps_to(10.0) == 0 and m.steps_to(1e-9) == 3
    assert c.aug[0].winding.size == 0 and c.plain[0].winding.size == 4
    with pytest.raises(TypeError, match="seeds"):
        dyn.circles_experiment(n=16, iters=1, loop_points=40, seeds=())


def test_adjoint_stretch_grows_with_the_contraction():
    r = dyn.adjoint_stretch_experiment(ks=(0.0, 3.0, 6.0), seeds=(0,), n=4)
    assert r.stretch.shape == (1, 3)
    # the stretch is about exp(k) along the contracted direction
    assert 10 < r.stretch[0, 1] < 60 < 150 < r.stretch[0, 2] < 1500
    assert r.reconstruction[0, 2] > 10 * r.tol
    f = dyn.ContractedField(dyn.ODEFunc(2, 4, dtype=F64), k=2.0)
    z = torch.tensor([[1.0, 0.0]], dtype=F64)
    torch.testing.assert_close(
        f(torch.tensor(0.0), z),
        f.field(torch.tensor(0.0), z) - torch.tensor([[2.0, 0.0]], dtype=F64),
    )
    with pytest.raises(ValueError, match="fit_from"):
        dyn.adjoint_stretch_experiment(ks=(0.0, 1.0), seeds=(0,))
    with pytest.raises(TypeError, match="ODEFunc"):
        dyn.ContractedField(torch.nn.Linear(2, 2), k=1.0)
