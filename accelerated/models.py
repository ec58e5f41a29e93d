"""Tiny parametric score models as ``nn.Module`` s, twins of :mod:`reference.models`.

:class:`LinearScore` (s(x) = x W + b, the linear-Gaussian family) and :class:`MLPScore`
(s(x, c) = tanh([x, c] W1 + b1) W2 + b2, optional conditioning c such as log sigma or a time
embedding) are built from given tensors, which become ``nn.Parameter`` s (copies, same dtype and
device). See the reference module for the slides (Isachenko DGM Lecture 7, 'Score matching' and
'Denoising score matching'; Beigy, 'Score Matching (SM)').

Both have analytic :meth:`jacobian` and :meth:`divergence` methods with the reference's formulas.
They exist for checking: the functions of :mod:`accelerated.score_matching` take *any*
``nn.Module`` and get Jacobians and traces by autograd / ``torch.func``, and the tests check that
those agree with the analytic ones here.

``forward`` does shape, dtype and device checks (metadata) and refuses non-finite inputs, as the
reference does, with one device assertion (no host read; skipped where value checks are off, while
``torch.compile`` traces and inside ``torch.func`` transforms), so the models work inside training
loops, ``torch.compile`` and ``torch.func.vmap`` / ``jacrev`` (a single point ``x`` of shape ``(d,)``
is a valid input).

Parameters are made once in NumPy (``reference.models.init_mlp_params``) and loaded into both sides.

One-sided names: none.
"""

from __future__ import annotations

import math

import torch
from torch import nn

import reference._args.models as AM

from . import _checks as C

__all__ = ["Flattened", "LinearScore", "MLPScore"]


def _check_linear(W: object, b: object) -> tuple[torch.Tensor, torch.Tensor]:
    """The parameters of a LinearScore: finite W (d, d) and b (d,), of one dtype and device."""
    names = ("W", "b")
    W, b = params = tuple(C.as_float_tensor(n, v) for n, v in zip(names, (W, b)))
    C.check_same_device_dtype(names, params)
    AM.linear_dim(W.shape, b.shape)
    for name, p in zip(names, params):
        C.check_finite(name, p)
    return W, b


def _check_mlp(W1: object, b1: object, W2: object, b2: object) -> tuple[torch.Tensor, ...]:
    """The parameters of an MLPScore: finite W1 (d + k, H), b1 (H,), W2 (H, d), b2 (d,), of one dtype and device."""
    names = ("W1", "b1", "W2", "b2")
    W1, b1, W2, b2 = params = tuple(C.as_float_tensor(n, v) for n, v in zip(names, (W1, b1, W2, b2)))
    C.check_same_device_dtype(names, params)
    AM.mlp_sizes(W1.shape, b1.shape, W2.shape, b2.shape)
    for name, p in zip(names, params):
        C.check_finite(name, p)
    return params


def _inputs(name: str, x: object, like: torch.Tensor, size: int, what: str) -> torch.Tensor:
    """An input of shape (..., size) with the dtype and device of ``like``, a parameter of the model.

    Finite, as on the reference, by one device assertion (no host read: ``forward`` runs inside
    training loops; skipped under ``torch.compile`` and ``torch.func`` transforms).
    """
    x = C.as_float_tensor(name, x)
    C.check_same_device_dtype((name, "model parameters"), (x, like))
    AM.inputs(name, x.shape, size, what)
    C.check_finite(name, x)
    return x


class LinearScore(nn.Module):
    r"""Linear score model s(x) = x W + b as an ``nn.Module``.

    .. math::

        s(x) = x W + b, \qquad J_{ij} = W_{ji}, \qquad \operatorname{div} s = \operatorname{tr} W.

    Parameters
    ----------
    W : (d, d) Tensor
        Weight matrix.
    b : (d,) Tensor
        Bias; same dtype and device as ``W``.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score function (One-dimensional Gaussian distribution)';
    Hyvarinen, JMLR 2005, Section 3.

    Examples
    --------
    N(1, 1/2) has the score s(x) = -2 (x - 1): W = -2, b = 2, so s(0) = 2 and div s = tr W = -2:

    >>> model = LinearScore(torch.full((1, 1), -2.0), torch.full((1,), 2.0))
    >>> model(torch.zeros(1)).tolist(), model.divergence(torch.zeros(1)).tolist()
    ([2.0], -2.0)
    """

    def __init__(self, W: torch.Tensor, b: torch.Tensor) -> None:
        super().__init__()
        W, b = _check_linear(W, b)
        self.W = nn.Parameter(W.detach().clone())
        self.b = nn.Parameter(b.detach().clone())

    @property
    def dim(self) -> int:
        return self.b.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """s(x) = x W + b for x of shape (..., d); returns (..., d)."""
        x = _inputs("x", x, self.W, self.dim, f"d = {self.dim} from b")
        return x @ self.W + self.b

    def jacobian(self, x: torch.Tensor) -> torch.Tensor:
        """J[..., i, j] = W[j, i] for every point; x (..., d) -> (..., d, d)."""
        x = _inputs("x", x, self.W, self.dim, f"d = {self.dim} from b")
        return self.W.mT.expand(*x.shape[:-1], self.dim, self.dim)

    def divergence(self, x: torch.Tensor) -> torch.Tensor:
        """tr W for every point; x (..., d) -> (...)."""
        x = _inputs("x", x, self.W, self.dim, f"d = {self.dim} from b")
        return torch.diagonal(self.W).sum().expand(x.shape[:-1])


class MLPScore(nn.Module):
    r"""One-hidden-layer tanh score model s(x, c) = tanh([x, c] W1 + b1) W2 + b2 as an ``nn.Module``.

    .. math::

        J_{ij} = \sum_h (W_2)_{hi} (1 - h_h^2) (W_1)_{jh}, \qquad
        \operatorname{tr} J = \sum_h (1 - h_h^2) \sum_{i \le d} (W_1)_{ih} (W_2)_{hi}.

    Parameters
    ----------
    W1 : (d + k, H) Tensor
        Input weights (first d rows act on x, last k on c).
    b1 : (H,) Tensor
        Hidden biases.
    W2 : (H, d) Tensor
        Output weights.
    b2 : (d,) Tensor
        Output bias. All four of one dtype and device.

    References
    ----------
    Isachenko, DGM Lecture 7, slides 'Score matching' and 'Denoising score matching';
    Song and Ermon, NeurIPS 2019.

    Examples
    --------
    At x = 0 with zero biases, h = 0: s(0) = b2 = 0 and div s = W1[0, 0] W2[0, 0] = 3 * 2 (the formula):

    >>> model = MLPScore(torch.full((1, 1), 3.0), torch.zeros(1), torch.full((1, 1), 2.0), torch.zeros(1))
    >>> model(torch.zeros(1)).tolist(), model.divergence(torch.zeros(1)).tolist()
    ([0.0], 6.0)
    """

    def __init__(self, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor, b2: torch.Tensor) -> None:
        super().__init__()
        W1, b1, W2, b2 = _check_mlp(W1, b1, W2, b2)
        self.W1 = nn.Parameter(W1.detach().clone())
        self.b1 = nn.Parameter(b1.detach().clone())
        self.W2 = nn.Parameter(W2.detach().clone())
        self.b2 = nn.Parameter(b2.detach().clone())

    @property
    def dim(self) -> int:
        """The data dimension d."""
        return self.W2.shape[1]

    @property
    def cond_dim(self) -> int:
        """The conditioning dimension k (0: unconditional)."""
        return self.W1.shape[0] - self.dim

    def _hidden(self, x: object, c: object) -> tuple[torch.Tensor, torch.Tensor]:
        x = _inputs("x", x, self.W1, self.dim, f"d = {self.dim} from W2")
        k = self.cond_dim
        if k == 0:
            if c is not None:
                raise ValueError(
                    f"c: this model has no conditioning input (W1 has {self.dim} = d rows), got {C.describe(c)}"
                )
            z = x
        else:
            if c is None:
                raise ValueError(f"c: required, this model has a conditioning input of size k = {k} (W1 rows - d)")
            c = C.as_float_tensor("c", c)
            if k == 1 and c.ndim >= 1 and c.shape == x.shape[:-1]:
                c = c.unsqueeze(-1)  # one level or time per point, as the losses and samplers pass sigma
            c = _inputs("c", c, self.W1, k, f"k = {k} from W1")
            batch = C.broadcast_batch(("x", "c"), (x.shape[:-1], c.shape[:-1]))
            x = x.expand(*batch, self.dim)
            z = torch.cat([x, c.expand(*batch, k)], dim=-1)
        return x, torch.tanh(z @ self.W1 + self.b1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """s(x, c) for x (..., d) and c (..., k) (batch axes broadcast; None when k = 0); returns (..., d).

        With k = 1, c may also have the batch shape of x, ``x.shape[:-1]``: one scalar per point, as
        :func:`accelerated.score_matching.ncsn_loss` and the Langevin samplers pass sigma.
        """
        _, h = self._hidden(x, c)
        return h @ self.W2 + self.b2

    def jacobian(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Analytic J[..., i, j] = d s_i / d x_j; returns (..., d, d)."""
        _, h = self._hidden(x, c)
        return torch.einsum("hi,...h,jh->...ij", self.W2, 1.0 - h**2, self.W1[: self.dim])

    def divergence(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Analytic tr J without forming J; returns (...)."""
        _, h = self._hidden(x, c)
        v = (self.W1[: self.dim] * self.W2.mT).sum(dim=0)
        return (1.0 - h**2) @ v


class Flattened(nn.Module):
    r"""A score model of vectors applied to samples of any shape (see :class:`reference.models.Flattened`).

    .. math::

        s(x) = \operatorname{unvec}\bigl(s_{\text{inner}}(\operatorname{vec}(x))\bigr).

    Samples ``(n, ...)`` with D features in all are flattened to ``(n, D)`` (a view where the layout
    allows), passed to ``inner`` with any conditioning arguments, and the result is reshaped back.
    :meth:`jacobian` and :meth:`divergence` are the inner model's at the flattened points.

    Parameters
    ----------
    inner : nn.Module
        The model of flat vectors (a registered submodule: its parameters are this module's).

    Notes
    -----
    An empty batch (n = 0) gives the inner model's empty results, of shapes (0, ...), (0, D, D) and
    (0,), as on the reference: the flattening names D explicitly (a reshape to ``(0, -1)`` is
    ambiguous and raised torch's error).

    References
    ----------
    Isachenko, DGM Lecture 13, 'Noise Conditioned Score Network (NCSN)' (score models of images).

    Examples
    --------
    s(x) = x + 1 on 2 x 2 images keeps their shape; its Jacobian is the identity on D = 4 features:

    >>> model = Flattened(LinearScore(torch.eye(4), torch.ones(4)))
    >>> model(torch.zeros(1, 2, 2)).tolist(), model.divergence(torch.zeros(1, 2, 2)).tolist()
    ([[[1.0, 1.0], [1.0, 1.0]]], [4.0])
    """

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        if not isinstance(inner, nn.Module):
            raise TypeError(f"inner: expected an nn.Module of flat vectors, got {C.describe(inner)}")
        self.inner = inner

    @staticmethod
    def _flat(x: object) -> torch.Tensor:
        x = C.as_float_tensor("x", x)
        if x.ndim < 1:
            raise ValueError(f"x: expected samples of shape (n, ...), got shape {tuple(x.shape)}")
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))  # D explicit: -1 is ambiguous for n = 0

    def forward(self, x: torch.Tensor, *cond: torch.Tensor) -> torch.Tensor:
        """s(x) of the shape of x."""
        return self.inner(self._flat(x), *cond).reshape(x.shape)

    def jacobian(self, x: torch.Tensor, *cond: torch.Tensor) -> torch.Tensor:
        """The Jacobian of the flattened map, (n, D, D)."""
        return self.inner.jacobian(self._flat(x), *cond)

    def divergence(self, x: torch.Tensor, *cond: torch.Tensor) -> torch.Tensor:
        """tr J per sample, (n,)."""
        return self.inner.divergence(self._flat(x), *cond)
