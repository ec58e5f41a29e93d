r"""Exact Jacobian traces of MLP score models from their factors, without d backward passes.

Used by :func:`accelerated.score_matching.jacobian_trace` and ``implicit_score_matching`` with
``method="factored"`` (and by ``method="auto"`` when the model is recognised). Slides: Advanced Course
on DGM, Lecture 8, slide 'Hard to scale' (the diagonal of grad_x s costs d backward passes); Isachenko,
DGM Lecture 13, slide 'Implicit score matching'.

A chain of linear layers and elementwise activations has, at each sample x_i, the Jacobian

.. math::

    J_i = F_K \cdots F_2 F_1, \qquad
    F_k = W_k \ (\text{a linear layer, the same at every sample}) \quad\text{or}\quad
    F_k = \operatorname{diag}\bigl(\sigma_k'(a_{k,i})\bigr) \ (\text{an activation at its input } a_{k,i}).

The trace is invariant under cyclic shifts, :math:`\operatorname{tr}(F_K \cdots F_1) =
\operatorname{tr}(F_1 F_K \cdots F_2)`, so the two outer weights of a network that begins and ends
with a linear layer merge into one constant matrix :math:`C = W_1 W_K`. With k per-sample diagonal
factors left on the cycle (after merging neighbours of one kind):

* k = 0: :math:`\operatorname{tr} C`, the same at every sample;
* k = 1: :math:`\operatorname{tr}(C D) = \sum_a C_{aa} \delta_a`, O(h) per sample;
* k = 2 (two hidden layers): :math:`\operatorname{tr}(C_b D_b C_a D_a) = \sum_{a,b} \delta_{a}
  (C_b \circ C_a^\top)_{ab}\, \delta_{b}`, one bilinear form, O(h^2) per sample, where d backward
  passes cost O(d h^2);
* k >= 3 (three or more hidden layers): the identity of the narrowest position of the chain (width
  m, usually the input, m = d) is pushed through the factors, m columns per sample, and the diagonal
  of the last product is summed: m passes through the inner layers only (the outermost weights cost
  O(m h) per sample). Fewer operations than the d full passes of the vmap method, but of the same
  order O(d h^2): at d = 64, h = 256, three hidden layers, measured 1.1-1.3x the loop for the value and
  1.0-1.2x for a training step (``benchmarks/bench_score_matching.py``), where two hidden layers give
  15-18x and 24-27x.

The derivatives :math:`\delta = \sigma'(a)` come from ``torch.func.jvp`` of the activation with a
tangent of ones (exact for an elementwise map, whose Jacobian is diagonal), so any elementwise
activation of the whitelist works, and the result is differentiable in the weights for training.

Recognised models (:func:`chain_of`): an ``nn.Sequential`` (exactly that class, nested ones
flattened) of ``nn.Linear``, whitelisted elementwise activations that do not work in place,
``nn.Identity`` and eval-mode ``nn.Dropout``, with no hooks anywhere in it; and the
unconditional :class:`accelerated.models.MLPScore` and :class:`accelerated.models.LinearScore`.
The layers are applied one by one (``F.linear`` with the layer's weight and bias), which is what
the module's own ``forward`` does.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from . import _checks as C
from . import models

# Elementwise activations: their Jacobian is diagonal, so jvp with ones gives its diagonal.
_ELEMENTWISE = (
    nn.CELU,
    nn.ELU,
    nn.GELU,
    nn.Hardshrink,
    nn.Hardsigmoid,
    nn.Hardswish,
    nn.Hardtanh,
    nn.LeakyReLU,
    nn.LogSigmoid,
    nn.Mish,
    nn.ReLU,
    nn.ReLU6,
    nn.SELU,
    nn.SiLU,
    nn.Sigmoid,
    nn.Softplus,
    nn.Softshrink,
    nn.Softsign,
    nn.Tanh,
    nn.Tanhshrink,
)

# A step of the chain: ("linear", (W, b)) with W of shape (out, in), or ("elementwise", fn).
Step = tuple[str, object]
# A Jacobian factor: ("W", weight (out, in)) or ("D", derivatives (n, width)).
Factor = tuple[str, torch.Tensor]


def _has_hooks(module: nn.Module) -> bool:
    """Hooks may change what the module computes or differentiates: such a module is not a plain chain."""
    return bool(
        module._forward_hooks or module._forward_pre_hooks or module._backward_hooks or module._backward_pre_hooks
    )


def _sequential_steps(seq: nn.Sequential) -> list[Step] | None:
    steps: list[Step] = []
    for m in seq:
        if _has_hooks(m):
            return None
        if type(m) is nn.Sequential:
            inner = _sequential_steps(m)
            if inner is None:
                return None
            steps.extend(inner)
        elif type(m) is nn.Linear:
            steps.append(("linear", (m.weight, m.bias)))
        elif type(m) in _ELEMENTWISE and not getattr(m, "inplace", False):
            steps.append(("elementwise", m))
        elif type(m) is nn.Identity or (type(m) is nn.Dropout and not m.training):
            continue
        else:
            return None
    return steps


def chain_of(model: object) -> list[Step] | None:
    """The model as a list of linear and elementwise steps, or None when it is not a recognised chain."""
    if type(model) is nn.Sequential and not _has_hooks(model):
        steps = _sequential_steps(model)
        return steps or None  # an empty chain (the identity map) is left to the vmap method
    if type(model) is models.MLPScore and model.cond_dim == 0 and not _has_hooks(model):
        return [("linear", (model.W1.mT, model.b1)), ("elementwise", torch.tanh), ("linear", (model.W2.mT, model.b2))]
    if type(model) is models.LinearScore and not _has_hooks(model):
        return [("linear", (model.W.mT, model.b))]
    return None


def check_input(steps: list[Step], x: torch.Tensor) -> None:
    """x must fit the first linear layer (width, dtype, device), as the model's own forward would demand."""
    linear = [step for kind, step in steps if kind == "linear"]
    if not linear:
        return
    W = linear[0][0]
    if x.shape[-1] != W.shape[1]:
        raise ValueError(
            f"x: expected shape (..., {W.shape[1]}) (the input width of the model's first linear layer), "
            f"got shape {tuple(x.shape)}"
        )
    C.check_same_device_dtype(("x", "model parameters"), (x, W))


def forward_with_factors(steps: list[Step], x: torch.Tensor) -> tuple[torch.Tensor, list[Factor]]:
    """The chain's output at x (n, d) and its Jacobian factors F_1, F_2, ... in the order applied."""
    a = x
    factors: list[Factor] = []
    for kind, step in steps:
        if kind == "linear":
            W, b = step
            a = F.linear(a, W, b)
            factors.append(("W", W))
        else:
            fn: Callable[[torch.Tensor], torch.Tensor] = step
            a, delta = torch.func.jvp(fn, (a,), (torch.ones_like(a),))
            factors.append(("D", delta))
    return a, factors


def _then(first: Factor, second: Factor) -> Factor:
    """One factor for ``first`` applied, then ``second`` (both of one kind)."""
    (kind, A), (_, B) = first, second
    return (kind, B @ A) if kind == "W" else (kind, B * A)


def _merge_neighbours(factors: list[Factor]) -> list[Factor]:
    merged: list[Factor] = []
    for f in factors:
        if merged and merged[-1][0] == f[0]:
            merged[-1] = _then(merged[-1], f)
        else:
            merged.append(f)
    return merged


def _cycle(factors: list[Factor]) -> list[Factor]:
    """Cyclic shift of the chain that merges its two ends when they are of one kind."""
    if len(factors) > 1 and factors[0][0] == factors[-1][0]:
        return [*factors[1:-1], _then(factors[-1], factors[0])]
    return factors


def _width_before(f: Factor) -> int:
    return f[1].shape[-1]  # W (out, in): in; D (n, width): width


def _pushed_trace(chain: list[Factor], n: int, chunk_size: int | None) -> torch.Tensor:
    """tr(F_K ... F_1) per sample by pushing the identity of the input of F_1 through the chain.

    T holds m basis columns per sample as rows: T[i, j, :] = (F_k ... F_1 e_j) at sample i.
    """
    m = _width_before(chain[0])
    step = m if chunk_size is None else min(chunk_size, m)
    first, rest, last = chain[0], chain[1:-1], chain[-1]
    total = None
    for j0 in range(0, m, step):
        j = slice(j0, min(j0 + step, m))
        if first[0] == "W":
            T = first[1].mT[j]  # (c, w): the columns W e_j, the same at every sample
        else:
            T = first[1][:, j, None] * torch.eye(m, dtype=first[1].dtype, device=first[1].device)[j]
        for kind, Fk in rest:
            T = T * Fk[:, None, :] if kind == "D" else T @ Fk.mT
        if last[0] == "W":
            part = (T * last[1][j]).sum(dim=-1)  # (e_j^T W T_j) = sum_b W[j, b] T[j, b]
        else:
            part = torch.diagonal(T[..., j], dim1=-2, dim2=-1) * last[1][:, j]
        part = part.expand(n, -1).sum(dim=-1)
        total = part if total is None else total + part
    return total


def trace_of_factors(factors: list[Factor], n: int, chunk_size: int | None = None) -> torch.Tensor:
    """tr(F_K ... F_1) at each of the n samples, exactly (see the module docstring)."""
    chain = _merge_neighbours(factors)
    cycle = _cycle(chain)
    k = sum(kind == "D" for kind, _ in cycle)  # per-sample factors left on the cycle
    if k >= 3:
        start = min(range(len(chain)), key=lambda p: _width_before(chain[p]))
        return _pushed_trace(chain[start:] + chain[:start], n, chunk_size)
    if len(cycle) == 1:
        kind, A = cycle[0]
        return A.sum(dim=-1) if kind == "D" else torch.diagonal(A).sum().expand(n)
    if cycle[0][0] == "W":
        cycle = cycle[1:] + cycle[:1]
    if k == 1:  # [D, C]: sum_a delta_a C_aa
        (_, delta), (_, C) = cycle
        return delta @ torch.diagonal(C)
    (_, delta_a), (_, C_a), (_, delta_b), (_, C_b) = cycle  # tr(C_b D_b C_a D_a)
    K = C_b * C_a.mT
    return ((delta_a @ K) * delta_b).sum(dim=-1)
