"""Bad-input campaign over the public API (issue 20): call public functions with bad arguments and
sort each outcome into clean / obscure / silent / hang.

* clean: TypeError or ValueError (or OSError for files) whose message names the argument;
* obscure: any other exception, or a message that does not name the argument;
* silent: the call returned (a NaN/inf result, or a bad input accepted);
* hang: still running after ``--timeout`` seconds (SIGALRM; counted as silent).

Two sources of cases: the list of issue 20 (``LISTED``), and a sweep (``--sweep``) that takes every
``Example:`` call of a public function's docstring and replaces one argument at a time by a bad
value (NaN, inf, -1, 0, 10**12, a string, an empty list, an integer dtype), which finds cases beyond
the list.

Run: ``PYTHONPATH=$PWD python benchmarks/bad_inputs.py [--sweep] [-v]``.
"""

from __future__ import annotations

import argparse
import ast
import doctest
import importlib
import inspect
import math
import signal
import sys
import warnings

import numpy as np
import torch

TOPICS = ("adversarial", "bayes", "control", "dynamics", "information", "meanfield", "meta", "sgd")


class Hang(Exception):
    pass


def _alarm(*_):
    raise Hang


def _nonfinite(r, depth=0) -> bool:
    if depth > 3:
        return False
    if isinstance(r, torch.Tensor):
        return r.is_floating_point() and r.numel() > 0 and not bool(torch.isfinite(r).all())
    if isinstance(r, np.ndarray):
        return r.dtype.kind == "f" and r.size > 0 and not bool(np.isfinite(r).all())
    if isinstance(r, float):
        return not math.isfinite(r)
    if isinstance(r, (tuple, list)):
        return any(_nonfinite(x, depth + 1) for x in r[:50])
    if isinstance(r, dict):
        return any(_nonfinite(x, depth + 1) for x in list(r.values())[:50])
    if hasattr(r, "__dataclass_fields__"):
        return any(_nonfinite(getattr(r, f), depth + 1) for f in r.__dataclass_fields__)
    return False


def classify(fn, arg: str, timeout: float):
    torch.set_grad_enabled(True)  # a case interrupted inside no_grad must not leak into the next
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = fn()
    except Hang:
        return "hang", "still running"
    except (TypeError, ValueError, OSError) as e:
        msg = str(e)
        names = [a for a in arg.split("|") if a]
        if not names or any(a in msg for a in names):
            return "clean", f"{type(e).__name__}: {msg[:100]}"
        return "obscure", f"{type(e).__name__} not naming {arg}: {msg[:100]}"
    except BaseException as e:  # noqa: BLE001
        return "obscure", f"{type(e).__name__}: {str(e)[:100]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return "silent", ("non-finite result" if _nonfinite(r) else "accepted")


def listed():
    """The cases named in issue 20 (argument named, call)."""
    from dltheory import adversarial as adv
    from dltheory import bayes, figures, meta, sgd
    from dltheory import control as ctl
    from dltheory import dynamics as dyn
    from dltheory import information as inf
    from dltheory import meanfield as mf
    from dltheory.control import lr as clr
    from dltheory.control import msa, pmp

    I1, I2 = [[1.0]], [[1.0, 0.0], [0.0, 1.0]]
    p = sgd.make_regression(50, 2, seed=0)
    L = sgd.TwoBasins()
    W = torch.zeros(4, 4, dtype=torch.float64)
    x0 = torch.ones(3, 4, dtype=torch.float64)
    model = inf.BatchedMLP.init([12, 5, 2], ["tanh"], [0])
    xb = torch.rand(8, 12)
    yb = torch.randint(0, 2, (8,))
    pm = meta.init_net(hidden=8)
    xm, ym = torch.rand(5, 1), torch.rand(5, 1)
    nets = sgd.init_mlps([0])
    dig = torch.rand(4, 64)
    ap = adv.init_mlp([4, 3, 2], seed=0)
    xa, ya = torch.rand(5, 4, dtype=torch.float64), torch.tensor([0, 1, 0, 1, 0])
    rc = pmp.ResNetControl(C=torch.eye(2, 4, dtype=torch.float64), h=0.5)
    A3 = np.eye(2)
    cases = [
        # 1. work
        ("n_steps", lambda: sgd.simulate_linear_sgd(I1, I1, 0.1, n_chains=2, n_steps=10**12)),
        ("n_steps", lambda: sgd.simulate_double_well(0.1, 0.01, n_chains=2, n_steps=10**12)),
        ("n_steps", lambda: sgd.simulate_escapes([0.25], 0.02, chains=[2], n_steps=10**12)),
        (
            "n_steps",
            lambda: sgd.simulate_basin_escapes(I2, [I2], 0.05, 0.05, chains=2, n_steps=10**12),
        ),
        ("n_steps", lambda: sgd.simulate_regression_sgd(p, 0.01, 5, n_chains=2, n_steps=10**12)),
        ("n_steps", lambda: sgd.descend(L, [0.0], n_steps=10**12)),
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
        ("L", lambda: dyn.perturbation_growth(W, x0, h=0.1, L=10**7)),
        ("L", lambda: dyn.stability_experiment(L=10**7)),
        ("T", lambda: ctl.riccati(A3, A3, A3, A3, A3, 10**7)),
        ("t_end", lambda: ctl.riccati_ode(A3, A3, A3, A3, A3, t_end=1e6)),
        (
            "n_steps",
            lambda: clr.sme_second_moment(
                lambda t: 1.0, t_end=1.0, a=1.0, eta=0.1, sigma=1.0, m0=1.0, n_steps=10**8
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
        ("steps", lambda: meta.adapt(pm, xm, ym, alpha=0.01, steps=10**9)),
        (
            "rho",
            lambda: msa.msa_train(
                rc,
                *pmp.init_params(T=2, d=4),
                torch.rand(5, 4, dtype=torch.float64),
                torch.zeros(5).long(),
                rho=np.zeros(10**8),
            ),
        ),
        # 2. divergence
        ("lr", lambda: sgd.simulate_linear_sgd(I1, I1, 3.0, n_chains=2, n_steps=2000)),
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
        (
            "eps",
            lambda: bayes.sgld_mixture(
                bayes.mixture_data(n=20), n_chains=2, eps=[1e10] * 50, n_keep=5
            ),
        ),
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
        (
            "lr",
            lambda: msa.gradient_train(
                rc,
                *pmp.init_params(T=2, d=4),
                torch.rand(5, 4, dtype=torch.float64),
                torch.zeros(5).long(),
                lr=1e300,
                n_iter=5,
            ),
        ),
        # 3. distributions, grids, matrices
        ("q", lambda: bayes.kl_divergence([1.0, 1.0], [0.5, 0.5])),
        ("q", lambda: bayes.tilt([1.0, 1.0], [0.0, 1.0], step=0.1)),
        (
            "grid_mass",
            lambda: bayes.histogram_tv(
                np.zeros((4, 2)), np.full((2, 2), 0.5), [0, 1, 2], [0, 1, 2]
            ),
        ),
        (
            "theta1_grid",
            lambda: bayes.grid_posterior([1.0, 0.0, 2.0], [0.0, 1.0], bayes.mixture_data(n=5)),
        ),
        (
            "R",
            lambda: ctl.lq_cost(
                np.zeros((2, 1)), np.ones((1, 1)), np.eye(1), -np.eye(1) * 5, np.eye(1)
            ),
        ),
        ("cov_q", lambda: sgd.gaussian_kl([[1.0, 2.0], [0.0, 1.0]], I2)),
        ("precond", lambda: sgd.ou_covariance(p, 0.01, 5, precond=np.zeros((2, 2)))),
        ("codes", lambda: inf.entropy_bits(torch.tensor([0.5, 1.0]))),
        (
            "y",
            lambda: importlib.import_module("dltheory.information.data").label_entropy([0.5, 1.0]),
        ),
        ("w1", lambda: sgd.TwoBasins(w1=-1.0)),
        ("h", lambda: sgd.double_well(0.0, h=-1.0)),
        (
            "eps",
            lambda: inf.train_batched(
                model,
                xb,
                yb,
                train_idx=torch.arange(8)[None],
                epochs=3,
                lr=0.01,
                batch_size=None,
                seeds=[0],
                eps=-1.0,
            ),
        ),
        (
            "u",
            lambda: clr.sme_second_moment(
                lambda t: 5.0, t_end=1.0, a=1.0, eta=0.1, sigma=1.0, m0=1.0
            ),
        ),
        ("u", lambda: meta.expected_final_loss([5.0, -5.0], a=1.0, eta=0.1, sigma=1.0, m0=1.0)),
        (
            "u",
            lambda: meta.unrolled_sgd_loss(
                torch.tensor([5.0, -5.0]),
                a=1.0,
                eta=0.1,
                sigma=1.0,
                m0=1.0,
                n_paths=4,
                generator=torch.Generator(),
            ),
        ),
        # 4. families without checks
        ("y", lambda: sgd.loss(nets, dig, torch.tensor([0, 1]))),
        ("y", lambda: sgd.accuracy(nets, dig, torch.tensor([-1, 1, 2, 3]))),
        ("x", lambda: sgd.outputs(nets, torch.rand(4, 3))),
        ("y", lambda: sgd.sharpness(nets, dig, torch.tensor([0, 1]), iters=2)),
        ("y", lambda: sgd.per_sample_grads(nets, dig, torch.tensor([0, 1]))),
        (
            "y",
            lambda: sgd.hvp(nets, dig, torch.tensor([0, 1]), [t.clone() for t in nets.tensors()]),
        ),
        ("y", lambda: adv.accuracy(ap, xa[None], torch.tensor([5, 5, 5, 5, 5]))),
        ("x0", lambda: adv.pgd_attack(ap, xa[None] + 3, ya, epsilon=0.1, steps=2)),
        (
            "generator",
            lambda: adv.adversarial_step(
                ap, xa[None], ya, method="pgd", epsilon=0.1, generator=None
            ),
        ),
        ("alpha", lambda: meta.adapt(pm, xm, ym, alpha=-1.0, steps=1)),
        ("alpha", lambda: meta.adapt(pm, xm, ym, alpha=math.nan, steps=1)),
        ("steps", lambda: meta.adapt(pm, xm, ym, alpha=0.01, steps=-1)),
        ("y", lambda: meta.adapt(pm, xm, torch.rand(3, 1), alpha=0.01, steps=1)),
        ("params", lambda: meta.net({"w": torch.ones(1)}, xm)),
        ("id", lambda: figures.label("not an id")),
        ("fig", lambda: figures.fingerprint("not a figure")),
        ("data", lambda: figures.plot("sgd/stationary-covariance", data=3)),
        ("x", lambda: sgd.accuracy(nets, torch.zeros(0, 64), torch.zeros(0).long())),
        (
            "x",
            lambda: adv.accuracy(ap, torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0).long()),
        ),
        # 5. dtype and device
        ("dtype", lambda: mf.hermite_rule(8, dtype=torch.int64)),
        ("dtype", lambda: sgd.load_digits(dtype=torch.int64)),
        ("dtype", lambda: sgd.init_mlps([0], dtype=torch.int64)),
        ("device", lambda: mf.load_digits_tensor(device="tpu")),
        ("device", lambda: dyn.euler_convergence(device="cuda")),
        ("x", lambda: adv.forward(ap, torch.empty(5, 4, dtype=torch.float64, device="meta"))),
        # 6. documented edges
        (
            "sigma_w2",
            lambda: (
                mf.iterate_maps("relu", 3.0, 0.0, 1.0, 0.5, 2000).q[-1]
                if math.isnan(float(mf.iterate_maps("relu", 3.0, 0.0, 1.0, 0.5, 2000).q[-1]))
                else (_ for _ in ()).throw(ValueError("sigma_w2 ok"))
            ),
        ),
        (
            "values",
            lambda: (lambda f: f if f.xi < 0 else (_ for _ in ()).throw(ValueError("values ok")))(
                mf.decay_length(np.exp(np.arange(20) * 0.1), 0.0)
            ),
        ),
        ("y_range", lambda: sgd.local_entropy(L, np.array([0.0]), 1.0, y_range=(10.0, -10.0))),
        ("x", lambda: sgd.local_entropy(L, np.array([100.0]), 1.0)),
        (
            "counts",
            lambda: sgd.rate_ratio_interval(
                sgd.EscapeCounts(np.array([0.0, 3.0]), np.ones(2)), 0, 1
            ),
        ),
        ("target", lambda: bayes.linreg_stationary_bias(I2, [0.0, 0.0])),
        ("field", lambda: dyn.residual_stack(lambda t, x: x * math.nan, torch.ones(2), T=1.0, L=4)),
        ("activation", lambda: mf.length_map(lambda z: z * math.nan, 1.0, 1.0, 0.0)),
        (
            "u",
            lambda: clr.sme_second_moment(
                lambda t: math.nan, t_end=1.0, a=1.0, eta=0.1, sigma=1.0, m0=1.0
            ),
        ),
        # 7. messages
        ("centres", lambda: inf.mixture_entropy_bounds(torch.zeros(0, 2), var=1.0)),
        ("inner_steps", lambda: meta.maml_train(pm, n_iter=1, inner_steps=-1)),
        ("eps", lambda: bayes.sgld_mixture(bayes.mixture_data(n=20), n_chains=2, eps=[], n_keep=5)),
        ("precond", lambda: sgd.exact_sgd_covariance(p, 0.01, 5, precond=np.zeros((2, 2)))),
        (
            "/proc/nonexistent",
            lambda: figures.save("sgd/stationary-covariance", "/proc/nonexistent/dir"),
        ),
        (
            "out",
            lambda: _cli_refuses(["figures", "build", "sgd/stationary-covariance", "--out", ""]),
        ),
    ]
    return cases


def _cli_refuses(argv):
    rc = importlib.import_module("dltheory.__main__").main(argv)
    if rc == 2:
        raise ValueError("--out refused by the CLI (exit status 2)")
    return rc


BAD = {
    "nan": math.nan,
    "inf": math.inf,
    "-1": -1,
    "0": 0,
    "1e12": 10**12,
    "str": "x",
    "empty": [],
    "intdtype": torch.int64,
}


def sweep():
    """Each docstring ``Example:`` call of a public function, one argument at a time made bad."""
    out = []
    seen = set()
    for t in TOPICS:
        mod = importlib.import_module(f"dltheory.{t}")
        for name in mod.__all__:
            f = getattr(mod, name)
            if not inspect.isfunction(f) or f in seen or not f.__doc__:
                continue
            seen.add(f)
            ex = doctest.DocTestParser().get_examples(f.__doc__)
            ns = dict(importlib.import_module(f.__module__).__dict__)
            setup = []
            for e in ex:
                src = e.source.strip()
                try:
                    tree = ast.parse(src)
                except SyntaxError:
                    continue
                calls = [
                    n
                    for n in ast.walk(tree)
                    if isinstance(n, ast.Call)
                    and getattr(n.func, "id", getattr(n.func, "attr", None)) == f.__name__
                ]
                if not calls:
                    setup.append(src)
                    continue
                call = calls[0]
                args = [(i, None) for i in range(len(call.args))] + [
                    (None, k.arg) for k in call.keywords
                ]
                for pos, kw in args:
                    argname = kw or _param_name(f, pos)
                    for label, value in BAD.items():
                        out.append(
                            (
                                argname,
                                _mutated(f, ns, setup, src, call, pos, kw, value),
                                f"{t}.{name}({argname}={label})",
                            )
                        )
                setup.append(src)
    return out


def _param_name(f, pos):
    try:
        return list(inspect.signature(f).parameters)[pos]
    except (ValueError, IndexError):
        return ""


def _mutated(f, ns, setup, src, call, pos, kw, value):
    def run():
        g = dict(ns)
        for s in setup:
            exec(s, g)  # noqa: S102
        g["__bad__"] = value
        tree = ast.parse(src)
        c = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == f.__name__
        ][0]
        bad = ast.Name(id="__bad__", ctx=ast.Load())
        if pos is not None:
            c.args[pos] = bad
        else:
            for k in c.keywords:
                if k.arg == kw:
                    k.value = bad
        tree = ast.fix_missing_locations(tree)
        if isinstance(tree.body[-1], ast.Expr):
            expr = ast.Expression(tree.body[-1].value)
            exec(compile(ast.Module(tree.body[:-1], []), "<case>", "exec"), g)  # noqa: S102
            return eval(compile(expr, "<case>", "eval"), g)  # noqa: S307
        exec(compile(tree, "<case>", "exec"), g)  # noqa: S102
        return None

    return run


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    # slow first imports must not be cut by the alarm (a half-imported module poisons later cases)
    for name in (
        "torch._dynamo",
        "torch.func",
        "pandas",
        "sklearn.datasets",
        "sklearn.model_selection",
        "scipy.stats",
        "scipy.integrate",
        "matplotlib.pyplot",
        "torchdiffeq",
        "torchsde",
        "dltheory.figures",
    ):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    for t in TOPICS:
        for sub in (
            "experiments",
            "experiments_node",
            "experiments_training",
            "experiments_landscape",
            "experiments_nets",
        ):
            try:
                importlib.import_module(f"dltheory.{t}.{sub}")
            except ImportError:
                pass
    counts = {}
    for k, (arg, fn, *lab) in enumerate(listed() if not a.sweep else sweep()):
        try:
            kind, why = classify(fn, arg, a.timeout)
        except Hang:  # the alarm fired while the call was unwinding
            signal.setitimer(signal.ITIMER_REAL, 0)
            kind, why = "hang", "still running"
        lab = lab or [f"{k}:{arg}"]
        counts[kind] = counts.get(kind, 0) + 1
        if a.v and kind != "clean":
            print(f"{kind:8s} {str(lab[0] if lab else k):40s} {why}", flush=True)
    total = sum(counts.values())
    print({k: counts.get(k, 0) for k in ("clean", "obscure", "silent", "hang")}, "total", total)


if __name__ == "__main__":
    sys.exit(main())
