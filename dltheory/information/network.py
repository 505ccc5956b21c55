"""Many small fully connected networks trained at once, as one batched model.

Shwartz-Ziv & Tishby's network is 12-10-7-5-4-3-2 (tanh hidden units, softmax output), trained with
Adam (learning rate 4e-4), mini-batches of 256 and an 80% training split. One such network is tiny,
so the time of a run is all per-operation overhead: tens of thousands of steps of a few microseconds
of arithmetic each. Two things make it fast:

* ``M`` networks (seeds, activations) are one model whose layers are ``torch.baddbmm`` over a
  leading model dimension, so training ``M`` networks costs about the same as training one. Each
  model has its own initialisation, training split and mini-batch order (from its seed) and its own
  hidden nonlinearity (``"tanh"`` or ``"relu"``).
* the backward pass (softmax cross-entropy, ``delta_l = (delta_{l+1} W_{l+1}^T) * f'(z_l)``) and
  Adam are written out by hand on one flat parameter buffer: about 60 tensor operations per step
  instead of the several hundred of autograd and ``torch.optim``. :func:`gradients` is checked
  against autograd in the tests.

The hidden activations of every model on all inputs are handed to a callback at chosen epochs, where
the information plane is estimated (:mod:`dltheory.information.estimators`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from dltheory import _checks as checks

__all__ = ["ACTIVATIONS", "BatchedMLP", "log_epochs", "gradients", "train_batched", "split_indices"]

#: Hidden-unit nonlinearities by name.
ACTIVATIONS = ("tanh", "relu")


def log_epochs(epochs: int, n: int) -> list[int]:
    """About ``n`` distinct, roughly log-spaced epochs in ``[0, epochs]``, always with 0 and
    ``epochs``.

    Example:
        >>> log_epochs(1000, 8)
        [0, 1, 3, 7, 19, 52, 139, 373, 1000]
    """
    epochs = checks.integer("epochs", epochs, low=1)
    n = checks.integer("n", n, low=2)
    checks.work("n", n)
    grid = [epochs ** (k / (n - 1)) for k in range(n)]
    return sorted({0, epochs, *[int(round(e)) for e in grid]})


def split_indices(n: int, n_train: int, seeds: Sequence[int]) -> torch.Tensor:
    """``(len(seeds), n_train)`` training indices: a random subset of ``range(n)`` per seed.

    Example:
        >>> split_indices(10, 8, [0, 1]).shape
        torch.Size([2, 8])
    """
    n = checks.integer("n", n)
    n_train = checks.integer("n_train", n_train, high=n)
    gens = [torch.Generator().manual_seed(20_000 + checks.seed(s, "seeds")) for s in seeds]
    return torch.stack([torch.randperm(n, generator=g)[:n_train] for g in gens])


@dataclass(frozen=True)
class BatchedMLP:
    """``M`` fully connected networks with the same widths, stored as stacked weights.

    Attributes:
        weights: per layer, a ``(M, d_in, d_out)`` tensor.
        biases: per layer, a ``(M, 1, d_out)`` tensor.
        activations: the hidden nonlinearity of each model.
    """

    weights: tuple[torch.Tensor, ...]
    biases: tuple[torch.Tensor, ...]
    activations: tuple[str, ...]

    @staticmethod
    def init(
        widths: Sequence[int],
        activations: Sequence[str],
        seeds: Sequence[int],
        *,
        dtype=torch.float32,
        device=None,
    ) -> "BatchedMLP":
        """Weights ``N(0, 1/d_in)`` truncated at two standard deviations, zero biases.

        Example:
            >>> m = BatchedMLP.init([12, 10, 2], ["tanh", "relu"], [0, 1])
            >>> [tuple(w.shape) for w in m.weights]
            [(2, 12, 10), (2, 10, 2)]
        """
        widths = [checks.integer("widths", w) for w in widths]
        if len(widths) < 2:
            raise ValueError("widths must list at least an input and an output width")
        activations = tuple(checks.choice("activations", a, ACTIVATIONS) for a in activations)
        seeds = [checks.seed(s, "seeds") for s in seeds]
        if len(seeds) != len(activations) or not seeds:
            raise ValueError(
                f"need one seed per model; got {len(seeds)} seeds, {len(activations)} activations"
            )
        ws, bs = [], []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            per = []
            for s in seeds:
                g = torch.Generator().manual_seed(1000 * s + i)
                w = torch.empty(a, b, dtype=torch.float64)
                torch.nn.init.trunc_normal_(
                    w, std=a**-0.5, a=-2 * a**-0.5, b=2 * a**-0.5, generator=g
                )
                per.append(w)
            ws.append(torch.stack(per).to(dtype=dtype, device=device))
            bs.append(torch.zeros(len(seeds), 1, b, dtype=dtype, device=device))
        return BatchedMLP(tuple(ws), tuple(bs), activations)

    @property
    def widths(self) -> list[int]:
        return [int(self.weights[0].shape[1])] + [int(w.shape[2]) for w in self.weights]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """All layer outputs for inputs ``x`` of shape ``(M, n, d_0)``: hidden layers, then the
        logits.

        Example:
            >>> m = BatchedMLP.init([12, 10, 2], ["tanh"], [0])
            >>> [tuple(h.shape) for h in m.forward(torch.zeros(1, 5, 12))]
            [(1, 5, 10), (1, 5, 2)]
        """
        return _forward(self.weights, self.biases, x, _act_masks(self.activations, x.device))


def _act_masks(kinds, device):
    if all(k == "tanh" for k in kinds):
        return "tanh"
    if all(k == "relu" for k in kinds):
        return "relu"
    return torch.tensor([k == "tanh" for k in kinds], device=device)[:, None, None]


def _act(z, masks):
    if isinstance(masks, str):
        return torch.tanh(z) if masks == "tanh" else torch.relu(z)
    return torch.where(masks, torch.tanh(z), torch.relu(z))


def _act_grad(h, masks):
    """f'(z) from h = f(z): 1 - h^2 for tanh, 1[h > 0] = sign(h) for ReLU (h >= 0)."""
    if isinstance(masks, str):
        return (
            torch.addcmul(torch.ones((), dtype=h.dtype, device=h.device), h, h, value=-1)
            if masks == "tanh"
            else torch.sign(h)
        )
    one = torch.ones((), dtype=h.dtype, device=h.device)
    return torch.where(masks, torch.addcmul(one, h, h, value=-1), torch.sign(h))


def _forward(weights, biases, x, masks):
    outs, h = [], x
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases, strict=False)):
        z = torch.bmm(h, w).add_(b)
        h = _act(z, masks) if i < last else z
        outs.append(h)
    return outs


def _backward(weights, outs, x, y_onehot, masks, gw, gb):
    """Gradients of the sum over models of each model's mean cross-entropy, written into gw, gb."""
    n = x.shape[1]
    logits = outs[-1]
    if (
        logits.shape[-1] == 2
    ):  # softmax of two logits is a sigmoid of their difference (a fast path)
        p = torch.sigmoid(logits - logits.flip(-1))
    else:
        p = torch.softmax(logits, dim=-1)
    delta = p.sub_(y_onehot).div_(n)
    for i in range(len(weights) - 1, -1, -1):
        h_in = x if i == 0 else outs[i - 1]
        torch.bmm(h_in.transpose(1, 2), delta, out=gw[i])
        torch.sum(delta, dim=1, keepdim=True, out=gb[i])
        if i > 0:
            delta = torch.bmm(delta, weights[i].transpose(1, 2)).mul_(_act_grad(outs[i - 1], masks))


def _flat_views(model: BatchedMLP, buffer: torch.Tensor):
    ws, bs, k = [], [], 0
    for w in model.weights:
        ws.append(buffer[k : k + w.numel()].view(w.shape))
        k += w.numel()
    for b in model.biases:
        bs.append(buffer[k : k + b.numel()].view(b.shape))
        k += b.numel()
    return ws, bs


def gradients(model: BatchedMLP, x, y) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Hand-written gradients of each model's mean cross-entropy on its batch.

    Args:
        model: the networks.
        x: inputs ``(M, n, d_0)``.
        y: integer labels ``(M, n)``.

    Returns:
        ``(grad_weights, grad_biases)``, shaped like the model's weights and biases.

    Example:
        >>> m = BatchedMLP.init([3, 4, 2], ["tanh", "relu"], [0, 1], dtype=torch.float64)
        >>> x = torch.ones(2, 5, 3, dtype=torch.float64)
        >>> gw, gb = gradients(m, x, torch.zeros(2, 5, dtype=torch.long))
        >>> [tuple(g.shape) for g in gw]
        [(2, 3, 4), (2, 4, 2)]
    """
    x = checks.tensor("x", x, ndim=3, dtype=model.weights[0].dtype)
    masks = _act_masks(model.activations, x.device)
    outs = _forward(model.weights, model.biases, x, masks)
    onehot = torch.nn.functional.one_hot(torch.as_tensor(y), outs[-1].shape[-1]).to(x.dtype)
    gw = [torch.empty_like(w) for w in model.weights]
    gb = [torch.empty_like(b) for b in model.biases]
    _backward(model.weights, outs, x, onehot, masks, gw, gb)
    return gw, gb


def train_batched(
    model: BatchedMLP,
    x,
    y,
    *,
    train_idx: torch.Tensor,
    epochs: int,
    lr: float,
    batch_size: int | None,
    seeds: Sequence[int],
    record_epochs: Sequence[int] = (),
    on_record: Callable[[int, list[torch.Tensor], torch.Tensor, torch.Tensor], None] | None = None,
    optimizer: str = "adam",
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    record_dtype: torch.dtype | None = None,
) -> BatchedMLP:
    """Train all models of ``model`` on their own training split with softmax cross-entropy.

    Adam is ``torch.optim.Adam``'s update written on one flat buffer (same formula, bias corrections
    folded into the step size); ``"gd"`` is plain gradient descent.

    Args:
        model: the initial networks (not modified).
        x: all inputs, ``(N, d_0)``.
        y: all labels, ``(N,)`` integers.
        train_idx: ``(M, n_train)`` long tensor, the training indices of each model.
        epochs: number of passes through the training split.
        lr: learning rate.
        batch_size: mini-batch size, or ``None`` for full-batch training (one step per epoch).
        seeds: one seed per model, for its mini-batch order.
        record_epochs: epochs (0 = before training) at which ``on_record`` is called.
        on_record: ``on_record(epoch, hidden, train_err, test_err)`` with the hidden layers on all
            inputs (a list of ``(M, N, d_l)`` tensors) and each model's training and test error
            rates ``(M,)``.
        optimizer: ``"adam"`` or ``"gd"``.
        betas, eps: Adam's parameters.
        record_dtype: if given, the activations handed to ``on_record`` are computed in this dtype
            from the current weights (e.g. float64 for networks trained in float32, so that a tanh
            unit is not rounded to exactly 1.0 at inputs above about 9).

    Returns:
        The trained networks.

    Example:
        >>> m = BatchedMLP.init([2, 3, 2], ["tanh"], [0])
        >>> x, y = torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([0, 1])
        >>> out = train_batched(m, x, y, train_idx=torch.tensor([[0, 1]]), epochs=3, lr=0.1,
        ...                     batch_size=None, seeds=[0])
        >>> tuple(out.weights[0].shape)
        (1, 2, 3)
    """
    if not isinstance(model, BatchedMLP):
        raise TypeError(
            f"model must be a BatchedMLP (see BatchedMLP.init); got {type(model).__name__}"
        )
    m_models = len(model.activations)
    dtype = model.weights[0].dtype
    dev = model.weights[0].device
    x = checks.tensor("x", x, ndim=2).to(device=dev, dtype=dtype)
    n_out = int(model.weights[-1].shape[-1])
    y = checks.labels("y", y, n_classes=n_out, n=x.shape[0]).to(dev)
    epochs = checks.integer("epochs", epochs, low=0)
    lr = checks.positive("lr", lr)
    optimizer = checks.choice("optimizer", optimizer, ("adam", "gd"))
    if (
        not isinstance(train_idx, torch.Tensor)
        or train_idx.ndim != 2
        or train_idx.shape[0] != m_models
    ):
        raise ValueError(f"train_idx must be a tensor of shape ({m_models}, n_train)")
    train_idx = train_idx.to(dev)
    n_train = train_idx.shape[1]
    if batch_size is not None:
        batch_size = checks.integer("batch_size", batch_size, low=1, high=n_train)
    seeds = [checks.seed(s, "seeds") for s in checks.sequence("seeds", seeds)]
    if len(seeds) != m_models:
        raise ValueError(f"need one seed per model ({m_models}); got {len(seeds)}")
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2); got {betas!r}")
    b1 = checks.probability("betas[0]", betas[0], open_high=True)
    b2 = checks.probability("betas[1]", betas[1], open_high=True)
    eps = checks.positive("eps", eps)
    n_steps = epochs * (1 if batch_size is None else -(-n_train // batch_size))
    n_par = sum(w.numel() for w in model.weights) + sum(b.numel() for b in model.biases)
    checks.work("epochs", n_steps, 3 * (n_par // m_models) * m_models * (batch_size or n_train))
    record = {int(e) for e in record_epochs}
    masks = _act_masks(model.activations, dev)

    n_par = sum(w.numel() for w in model.weights) + sum(b.numel() for b in model.biases)
    theta = torch.cat([p.reshape(-1) for p in (*model.weights, *model.biases)]).clone()
    grad = torch.zeros(n_par, dtype=dtype, device=dev)
    m1, m2 = torch.zeros_like(theta), torch.zeros_like(theta)
    ws, bs = _flat_views(model, theta)
    gw, gb = _flat_views(model, grad)
    onehot_all = torch.nn.functional.one_hot(y, n_out).to(dtype)
    test_mask = torch.ones(m_models, x.shape[0], dtype=torch.bool, device=dev)
    test_mask.scatter_(1, train_idx, False)
    x_all = x.expand(m_models, *x.shape)
    gens = [torch.Generator().manual_seed(10_000 + s) for s in seeds]
    step = 0

    def report(epoch):
        outs = _forward(ws, bs, x_all, masks)
        wrong = (outs[-1].argmax(-1) != y).to(dtype)
        train_err = wrong.gather(1, train_idx).mean(1)
        test_err = (wrong * test_mask).sum(1) / test_mask.sum(1).clamp(min=1)
        if record_dtype is not None and record_dtype != dtype:
            outs = _forward(
                [w.to(record_dtype) for w in ws],
                [b.to(record_dtype) for b in bs],
                x_all.to(record_dtype),
                masks,
            )
        on_record(epoch, outs[:-1], train_err, test_err)

    with torch.no_grad():
        if 0 in record and on_record is not None:
            report(0)
        for epoch in range(1, epochs + 1):
            if batch_size is None:
                batches = [train_idx]
            else:
                perm = torch.stack([torch.randperm(n_train, generator=g) for g in gens]).to(dev)
                order = train_idx.gather(1, perm)
                batches = [order[:, s : s + batch_size] for s in range(0, n_train, batch_size)]
            for idx in batches:
                flat = idx.reshape(-1)
                xb = x.index_select(0, flat).view(m_models, -1, x.shape[1])
                yb = onehot_all.index_select(0, flat).view(m_models, -1, n_out)
                outs = _forward(ws, bs, xb, masks)
                _backward(ws, outs, xb, yb, masks, gw, gb)
                step += 1
                if optimizer == "gd":
                    theta.add_(grad, alpha=-lr)
                    continue
                m1.mul_(b1).add_(grad, alpha=1 - b1)
                m2.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                bc1, bc2 = 1 - b1**step, math.sqrt(1 - b2**step)
                theta.addcdiv_(m1, m2.sqrt().add_(eps * bc2), value=-lr * bc2 / bc1)
            checks.finite_state("lr", theta, lr, step=step)
            if epoch in record and on_record is not None:
                report(epoch)
    return BatchedMLP(tuple(w.clone() for w in ws), tuple(b.clone() for b in bs), model.activations)
