"""The chapter's experiments, sections 1-3: ResNets as Euler, forward stability, reversibility.

Each experiment is a seeded function of ``scale`` (``"book"``: the sizes the chapter runs on a CPU
in seconds; ``"full"``: more inputs, deeper or wider, meant for a GPU; see :func:`dltheory.scale`)
and ``device``, and returns a frozen dataclass. The figures are registered here under
``dynamics/<name>``; their captions live in ``book/dynamics.md``. The neural-ODE experiments are in
:mod:`dltheory.dynamics.experiments_node`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks, figures
from dltheory.device import SCALES
from dltheory.dynamics.euler import (
    discretisation_errors,
    fit_loglog_slope,
    leading_error_constant,
    linear_test_field,
)
from dltheory.dynamics.reversible import (
    euler_reversal,
    hamiltonian_forward,
    hamiltonian_inverse,
    hamiltonian_params,
)
from dltheory.dynamics.stability import (
    antisymmetric_matrix,
    euler_amplification,
    perturbation_growth,
)

__all__ = [
    "SIZES",
    "EulerConvergence",
    "euler_convergence",
    "StabilitySetting",
    "StabilityExperiment",
    "STABILITY_SETTINGS",
    "stability_experiment",
    "Reversibility",
    "reversibility_experiment",
]

#: Sizes per experiment and scale (the parameters that ``scale`` sets).
SIZES: dict[str, dict[str, dict]] = {
    "euler": {"book": {"n": 8}, "full": {"n": 256}},
    "stability": {"book": {"n": 64}, "full": {"n": 1024}},
    "reversibility": {"book": {"n": 256, "L": 100}, "full": {"n": 4096, "L": 1000}},
    "adjoint": {"book": {"hidden": 16, "n": 32}, "full": {"hidden": 64, "n": 256}},
    "moons": {"book": {"n": 200, "iters": 40}, "full": {"n": 1000, "iters": 200}},
    "circles": {
        "book": {"n": 200, "iters": 300, "loop_points": 2000},
        "full": {"n": 1000, "iters": 1000, "loop_points": 10000},
    },
    "stretch": {
        "book": {"n": 32, "seeds": (0, 1, 2)},
        "full": {"n": 256, "seeds": tuple(range(8))},
    },
    "costate": {
        "book": {"depths": (8, 16, 32, 64, 128, 256)},
        "full": {"depths": (8, 16, 32, 64, 128, 256, 512, 1024, 2048)},
    },
}


def sizes(experiment: str, scale: str) -> dict:
    """The sizes of ``experiment`` at ``scale`` (a copy of the :data:`SIZES` entry).

    Example:
        >>> sizes("stability", "book")
        {'n': 64}
    """
    experiment = _checks.choice("experiment", experiment, SIZES)
    scale = _checks.choice("scale", scale, SCALES)
    return dict(SIZES[experiment][scale])


def as_device(device) -> torch.device:
    """``device`` (``None`` for the CPU, a string or a :class:`torch.device`) as a torch.device."""
    return _checks.device("device", device) or torch.device("cpu")


def _override(sz: dict, **given) -> dict:
    """Sizes of the scale, with the explicitly given (not None) values taking precedence."""
    sz.update({k: v for k, v in given.items() if v is not None})
    return sz


# ---------------------------------------------------------------- section 1: ResNets are Euler
@dataclass(frozen=True)
class EulerConvergence:
    """Result of :func:`euler_convergence`.

    Attributes:
        depths: the depths ``L``.
        euler: relative error of the Euler ResNet against ``expm(A T) x0`` at each depth.
        rk4: the same for RK4 blocks.
        slope_euler: least-squares slope of ``log error`` against ``log L`` (theory: -1).
        slope_rk4: the same for RK4 (theory: -4).
        eigenvalues: eigenvalues of ``A``.
        T: integration time.
        const_euler, const_rk4: the leading error constants ``C`` of
            :func:`~dltheory.dynamics.euler.leading_error_constant` (orders 1 and 4): theory says
            ``euler ~ C (T/L)`` and ``rk4 ~ C (T/L)^4`` as ``L`` grows.
    """

    depths: np.ndarray
    euler: np.ndarray
    rk4: np.ndarray
    slope_euler: float
    slope_rk4: float
    eigenvalues: np.ndarray
    T: float
    const_euler: float
    const_rk4: float


def euler_convergence(
    *,
    scale: str = "book",
    depths=tuple(2**k for k in range(4, 11)),
    T: float = 1.0,
    n: int | None = None,
    seed: int = 0,
    device=None,
) -> EulerConvergence:
    """Errors of Euler and RK4 ResNets on a linear field against ``expm(A T)`` (Section 1).

    Args:
        scale: ``"book"`` (8 inputs) or ``"full"`` (256 inputs).
        depths: depths ``L``.
        T: integration time (> 0).
        n: number of random inputs (default: from ``scale``).
        seed: seed of the field and the inputs.
        device: where to compute (default the CPU).

    Example:
        >>> r = euler_convergence(depths=(16, 32, 64))
        >>> abs(r.slope_euler + 1) < 0.05
        True
    """
    sz = _override(sizes("euler", scale), n=n)
    n = _checks.integer("n", sz["n"])
    seed = _checks.seed(seed)
    dev = as_device(device)
    A = linear_test_field(seed=seed)
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(n, A.shape[0], generator=g, dtype=torch.float64)
    A, x0 = A.to(dev), x0.to(dev)
    eu = discretisation_errors(A, x0, T=T, depths=depths, method="euler")
    rk = discretisation_errors(A, x0, T=T, depths=depths, method="rk4")
    return EulerConvergence(
        depths=np.asarray(depths),
        euler=eu,
        rk4=rk,
        slope_euler=fit_loglog_slope(depths, eu),
        slope_rk4=fit_loglog_slope(depths, rk),
        eigenvalues=np.linalg.eigvals(A.cpu().numpy()),
        T=float(T),
        const_euler=leading_error_constant(A, x0, T=T, order=1),
        const_rk4=leading_error_constant(A, x0, T=T, order=4),
    )


@figures.register(
    "dynamics/euler-convergence", compute=functools.partial(euler_convergence, seed=0)
)
def _plot_euler_convergence(data: EulerConvergence):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    L = data.depths.astype(float)
    series = (
        (data.euler, data.slope_euler, 1, "Euler (ResNet)"),
        (data.rk4, data.slope_rk4, 4, "RK4 block"),
    )
    for k, (err, slope, p, name) in enumerate(series):
        ax.loglog(L, err, "o-", color=f"C{k}", label=f"{name}: experiment, slope ${slope:.3f}$")
        # the theory line is drawn a factor 4 above the data so that both stay visible
        ax.loglog(
            L,
            4 * err[0] * (L / L[0]) ** (-p),
            "--",
            color=f"C{k}",
            lw=1,
            label=f"theory: $\\propto L^{{-{p}}}$ (shifted up $\\times 4$)",
        )
    ax.set_xticks(L)
    ax.set_xticklabels([str(int(x)) for x in L])
    ax.minorticks_off()
    ax.set_xlabel("depth $L$ (step $h = T/L$)")
    ax.set_ylabel(r"relative error $\|x_L - e^{AT}x_0\| / \|e^{AT}x_0\|$")
    ax.legend(fontsize=8)
    return fig


# ---------------------------------------------------------------- section 2: stability
#: The settings of :func:`stability_experiment`: name -> (kind, h, gamma, scale of K).
STABILITY_SETTINGS: dict[str, tuple[str, float, float, float]] = {
    "unconstrained": ("unconstrained", 0.1, 0.0, 1.0),
    "antisymmetric, stable": ("antisymmetric", 0.1, 0.5, 1.0),
    "antisymmetric, unstable": ("antisymmetric", 0.5, 0.0, 1.0),
}


@dataclass(frozen=True)
class StabilitySetting:
    """One layer matrix of :func:`stability_experiment`.

    Attributes:
        kind: ``"antisymmetric"`` (``W = K - K^T - gamma I``) or ``"unconstrained"`` (``W = K``).
        h: step size.
        gamma: damping (antisymmetric only).
        eigenvalues: eigenvalues ``lambda`` of ``W``.
        amplification: ``max |1 + h lambda|`` (forward Euler's per-layer gain).
        verdict: ``"stable"`` if ``amplification < 1`` else ``"unstable"``.
        max_real_part: ``max Re lambda``: the continuous ODE ``dx/dt = W x`` grows when it is > 0,
            and then no step size helps, since ``|1 + h lambda| >= 1 + h Re lambda > 1``.
        tanh: median over inputs of ``|delta x_j| / |delta x_0|`` through the tanh network,
            ``j = 0..L``.
        tanh_final: ``|delta x_L| / |delta x_0|`` per input (the last layer).
        prediction: the linear prediction ``amplification ** j``.
        linear_norm: spectral norm of the linear ``L``-layer map ``(I + hW)^L`` (antisymmetric
            settings; ``None`` otherwise).
        linear_pred: ``amplification ** L`` (antisymmetric settings; ``None`` otherwise).
        ode_gain: ``exp(h L max Re lambda)``, the norm of the continuous flow ``exp(W h L)`` of a
            normal ``W`` over the same time: what the network would do if it inherited the ODE's
            stability (the rival of ``linear_pred``).
    """

    kind: str
    h: float
    gamma: float
    eigenvalues: np.ndarray
    amplification: float
    verdict: str
    max_real_part: float
    tanh: np.ndarray
    tanh_final: np.ndarray
    prediction: np.ndarray
    linear_norm: float | None
    linear_pred: float | None
    ode_gain: float

    def sign_test(self, direction: str) -> float:
        """One-sided sign test of the null "no effect" (median gain 1) on :attr:`tanh_final`.

        Args:
            direction: ``"grows"`` (the alternative is a median gain above 1) or ``"decays"``.

        Returns:
            The p-value: the binomial probability, under a fair coin, of at least as many inputs
            whose perturbation grew (or decayed) as observed.

        Example:
            >>> r = stability_experiment(L=10)
            >>> r.unstable.sign_test("grows") < 1e-6
            True
        """
        import scipy.stats

        direction = _checks.choice("direction", direction, ("grows", "decays"))
        g = self.tanh_final
        k = int((g > 1).sum() if direction == "grows" else (g < 1).sum())
        return float(scipy.stats.binomtest(k, g.size, 0.5, alternative="greater").pvalue)


@dataclass(frozen=True)
class StabilityExperiment:
    """Result of :func:`stability_experiment`.

    Attributes:
        L: number of layers.
        n: number of inputs (the medians are over them).
        settings: name -> :class:`StabilitySetting`, in the order of :data:`STABILITY_SETTINGS`
            (also as the attributes :attr:`unconstrained`, :attr:`stable`, :attr:`unstable`).
    """

    L: int
    n: int
    settings: dict[str, StabilitySetting]

    @property
    def unconstrained(self) -> StabilitySetting:
        """The unconstrained layer ``W = K``."""
        return self.settings["unconstrained"]

    @property
    def stable(self) -> StabilitySetting:
        """The antisymmetric layer with ``h = 0.1``, ``gamma = 0.5`` (predicted stable)."""
        return self.settings["antisymmetric, stable"]

    @property
    def unstable(self) -> StabilitySetting:
        """The antisymmetric layer with ``h = 0.5``, ``gamma = 0`` (predicted unstable)."""
        return self.settings["antisymmetric, unstable"]


def stability_experiment(
    *,
    scale: str = "book",
    d: int = 16,
    n: int | None = None,
    L: int = 100,
    seed: int = 0,
    device=None,
) -> StabilityExperiment:
    """Perturbation growth in tanh residual networks with predicted (in)stability (Section 2).

    For each of :data:`STABILITY_SETTINGS`, ``K`` is Gaussian with standard deviation
    ``scale_K / sqrt(d)``; inputs are Gaussian and the biases zero.

    Args:
        scale: ``"book"`` (64 inputs) or ``"full"`` (1024 inputs).
        d: width.
        n: number of inputs (default: from ``scale``).
        L: number of layers.
        seed: seed of the matrices and inputs.
        device: where to compute (default the CPU).

    Example:
        >>> r = stability_experiment(L=10)
        >>> r.stable.verdict
        'stable'
    """
    sz = _override(sizes("stability", scale), n=n)
    d = _checks.integer("d", d, high=4096)
    n = _checks.integer("n", sz["n"])
    L = _checks.integer("L", L)
    _checks.size("n and L", n * d * (L + 1))
    _checks.work("L", L * len(STABILITY_SETTINGS), n * d * d)
    seed = _checks.seed(seed)
    dev = as_device(device)
    # The layer matrices are the same at every n: the first 64 inputs come from the generator
    # before the matrices (as at book scale), further inputs from a second generator.
    g = torch.Generator().manual_seed(seed)
    n_first = SIZES["stability"]["book"]["n"]
    x0 = torch.randn(n_first, d, generator=g, dtype=torch.float64)
    if n > n_first:
        g2 = torch.Generator().manual_seed(seed + 1)
        x0 = torch.cat([x0, torch.randn(n - n_first, d, generator=g2, dtype=torch.float64)])
    x0 = x0[:n].to(dev)
    out: dict[str, StabilitySetting] = {}
    for name, (kind, h, gamma, sc) in STABILITY_SETTINGS.items():
        K = (torch.randn(d, d, generator=g, dtype=torch.float64) * sc / math.sqrt(d)).to(dev)
        W = antisymmetric_matrix(K, gamma) if kind == "antisymmetric" else K
        lam = torch.linalg.eigvals(W).cpu().numpy()
        amp = float(euler_amplification(lam, h))
        growth = perturbation_growth(W, x0, h=h, L=L)
        lin_norm = lin_pred = None
        if kind == "antisymmetric":
            M = torch.linalg.matrix_power(torch.eye(d, dtype=torch.float64, device=dev) + h * W, L)
            lin_norm, lin_pred = torch.linalg.matrix_norm(M, ord=2).item(), amp**L
        out[name] = StabilitySetting(
            kind=kind,
            h=h,
            gamma=gamma,
            eigenvalues=lam,
            amplification=amp,
            verdict="stable" if amp < 1 else "unstable",
            max_real_part=float(lam.real.max()),
            tanh=growth.median(dim=1).values.cpu().numpy(),
            tanh_final=growth[-1].cpu().numpy(),
            prediction=amp ** np.arange(L + 1),
            linear_norm=lin_norm,
            linear_pred=lin_pred,
            ode_gain=math.exp(h * L * float(lam.real.max())),
        )
    return StabilityExperiment(L=L, n=n, settings=out)


@figures.register("dynamics/stability", compute=functools.partial(stability_experiment, seed=0))
def _plot_stability(data: StabilityExperiment):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.8))
    th = np.linspace(0, 2 * np.pi, 400)
    ax0.fill(
        -1 + np.cos(th), np.sin(th), color="0.88", label=r"stable region $|1 + h\lambda| \leq 1$"
    )
    ax0.plot(-1 + np.cos(th), np.sin(th), color="0.55", lw=0.8)
    markers = ["o", "s", "^", "D"]
    j = np.arange(data.L + 1)
    for k, (name, rec) in enumerate(data.settings.items()):
        z = rec.h * rec.eigenvalues
        ax0.plot(z.real, z.imag, markers[k % 4], ms=4, ls="none", color=f"C{k}", label=name)
        ax1.semilogy(j, rec.tanh, color=f"C{k}", label=f"{name}: tanh network")
        ax1.semilogy(
            j,
            rec.prediction,
            "--",
            color=f"C{k}",
            lw=1,
            label=f"linear theory: ${rec.amplification:.3f}^j$",
        )
    # a zoom on the origin (axes not to scale): the disc is tangent to the imaginary axis
    ax0.set_xlim(-0.6, 0.25)
    ax0.set_ylim(-1.25, 1.25)
    ax0.set_xlabel(r"$\mathrm{Re}\, h\lambda$")
    ax0.set_ylabel(r"$\mathrm{Im}\, h\lambda$")
    ax0.legend(loc="upper left", fontsize=8, framealpha=0.95, frameon=True)
    ax1.set_ylim(1e-2, 1e4)
    ax1.set_xlabel("layer $j$")
    ax1.set_ylabel(r"$\|\delta x_j\| / \|\delta x_0\|$")
    ax1.legend(fontsize=8, ncol=1, loc="lower left")
    return fig


# ---------------------------------------------------------------- section 3: reversibility
@dataclass(frozen=True)
class Reversibility:
    """Result of :func:`reversibility_experiment`.

    Attributes:
        error: max over inputs of the relative error of the input reconstructed from the output.
        error_naive: the same for the naive reversal :func:`euler_reversal` (each block run
            backwards with ``-h``, as one would reverse a generic residual block): the rival.
        output_change: median relative distance of the output from the input (the map is far
            from the identity).
        grad_error: relative difference between the input gradient of ``|x_L|^2`` computed by
            recomputing activations backwards from the output and ordinary backprop.
        L: number of blocks.
        n: number of inputs.
    """

    error: float
    error_naive: float
    output_change: float
    grad_error: float
    L: int
    n: int


def reversibility_experiment(
    *,
    scale: str = "book",
    d: int = 8,
    n: int | None = None,
    L: int | None = None,
    h: float = 0.1,
    seed: int = 0,
    device=None,
) -> Reversibility:
    """Reconstruct the input of an ``L``-block Hamiltonian network from its output (float64).

    Args:
        scale: ``"book"`` (256 inputs, 100 blocks) or ``"full"`` (4096 inputs, 1000 blocks).
        d: width of each half of the state.
        n, L: number of inputs and blocks (default: from ``scale``).
        h: step size (> 0).
        seed: seed of the parameters (inputs: ``seed + 1``).
        device: where to compute (default the CPU).

    Example:
        >>> reversibility_experiment(L=10, n=4).error < 1e-12
        True
    """
    sz = _override(sizes("reversibility", scale), n=n, L=L)
    n = _checks.integer("n", sz["n"])
    L = _checks.integer("L", sz["L"])
    d = _checks.integer("d", d)
    _checks.size("n and d", n * d * 2)
    seed = _checks.seed(seed)
    dev = as_device(device)
    p = {k: v.to(dev) for k, v in hamiltonian_params(d=d, L=L, seed=seed).items()}
    g = torch.Generator().manual_seed(seed + 1)
    y0 = torch.randn(n, d, generator=g, dtype=torch.float64).to(dev)
    z0 = torch.randn(n, d, generator=g, dtype=torch.float64).to(dev)
    yL, zL = hamiltonian_forward(y0, z0, p, h=h)
    yr, zr = hamiltonian_inverse(yL, zL, p, h=h)
    x0, xr, xL = torch.cat([y0, z0], -1), torch.cat([yr, zr], -1), torch.cat([yL, zL], -1)
    err = ((xr - x0).norm(dim=-1) / x0.norm(dim=-1)).max().item()
    xn = torch.cat(euler_reversal(yL, zL, p, h=h), -1)
    err_naive = ((xn - x0).norm(dim=-1) / x0.norm(dim=-1)).max().item()
    change = ((xL - x0).norm(dim=-1) / x0.norm(dim=-1)).median().item()
    # memory-free backprop: walk back block by block, recomputing each block's input from its output
    yl, zl = yL.detach(), zL.detach()
    gy, gz = 2 * yl, 2 * zl  # gradient of |x_L|^2
    for j in reversed(range(L)):
        one = {k: v[j : j + 1] for k, v in p.items()}
        yi, zi = hamiltonian_inverse(yl, zl, one, h=h)
        yi, zi = yi.requires_grad_(), zi.requires_grad_()
        yo, zo = hamiltonian_forward(yi, zi, one, h=h)
        gy, gz = torch.autograd.grad((yo, zo), (yi, zi), (gy, gz))
        yl, zl = yi.detach(), zi.detach()
    ya, za = y0.clone().requires_grad_(), z0.clone().requires_grad_()
    yb, zb = hamiltonian_forward(ya, za, p, h=h)
    ga, gb = torch.autograd.grad((yb**2).sum() + (zb**2).sum(), (ya, za))
    gstore, grec = torch.cat([ga, gb], -1), torch.cat([gy, gz], -1)
    return Reversibility(
        error=err,
        error_naive=err_naive,
        output_change=change,
        grad_error=((grec - gstore).norm() / gstore.norm()).item(),
        L=L,
        n=n,
    )
