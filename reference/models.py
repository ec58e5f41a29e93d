"""Tiny parametric score models, defined on both sides from the same parameter arrays.

A score model s_theta(x) approximates grad_x log p(x). The two families here are small enough to
have analytic Jacobians, so that score-matching losses (which need the trace of the Jacobian) and
samplers can be crosschecked end to end between :mod:`reference` and :mod:`accelerated`:

* :class:`LinearScore`, s(x) = x W + b: the linear-Gaussian family. N(m, S) has the score
  s(x) = -(x - m) S^{-1}, i.e. W = -S^{-1} and b = m S^{-1}; the model family contains every Gaussian.
* :class:`MLPScore`, s(x, c) = tanh([x, c] W1 + b1) W2 + b2: one tanh hidden layer with an optional
  conditioning input c (a noise level log sigma or a time embedding, as in NCSN and DDPM score
  networks), concatenated to x.

Parameters are created once in NumPy (:func:`init_mlp_params`, or by hand) and loaded into both
sides: ``reference.models.MLPScore(**params)`` and
``accelerated.models.MLPScore(**{k: torch.as_tensor(v) for k, v in params.items()})``.

Slides implemented
------------------
* Isachenko, DGM Lecture 7, slide 'Score matching' (a score model s_theta(x) trained to match
  grad log p) and 'Denoising score matching' (s_{theta, sigma} parametrised by sigma: the
  conditioning input c).
* Beigy, Score-Based Generative Models, slide 'Score Matching (SM)' (implicit score matching needs
  tr(grad_x s_theta(x)): :meth:`MLPScore.divergence`).

One-sided names: ``init_mlp_params`` (parameters are created once in NumPy from a
numpy.random.Generator and loaded into both sides, so only the reference side makes them).
"""

from __future__ import annotations

import math

import numpy as np

import reference._args as A
import reference._args.models as AM

from . import _checks as C

__all__ = ["Flattened", "LinearScore", "MLPScore", "init_mlp_params"]


def _check_linear(W: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    """The parameters of a LinearScore: finite W (d, d) and b (d,), float64."""
    names = ("W", "b")
    W, b = params = tuple(C.as_float64(n, v) for n, v in zip(names, (W, b)))
    AM.linear_dim(W.shape, b.shape)
    for name, p in zip(names, params):
        C.check_finite(name, p)
    return W, b


def _check_mlp(W1: object, b1: object, W2: object, b2: object) -> tuple[np.ndarray, ...]:
    """The parameters of an MLPScore: finite W1 (d + k, H), b1 (H,), W2 (H, d), b2 (d,), float64."""
    names = ("W1", "b1", "W2", "b2")
    W1, b1, W2, b2 = params = tuple(C.as_float64(n, v) for n, v in zip(names, (W1, b1, W2, b2)))
    AM.mlp_sizes(W1.shape, b1.shape, W2.shape, b2.shape)
    for name, p in zip(names, params):
        C.check_finite(name, p)
    return params


def _inputs(name: str, x: object, like: np.ndarray, size: int, what: str) -> np.ndarray:
    """An input of shape (..., size), finite, float64 (``like``, a parameter of the model, sets the
    dtype and device on the accelerated side; every array here is float64)."""
    x = C.as_float64(name, x)
    AM.inputs(name, x.shape, size, what)
    C.check_finite(name, x)
    return x


class LinearScore:
    r"""Linear score model :math:`s(x) = x W + b` (the linear-Gaussian score family).

    .. math::

        s(x) = x W + b, \qquad J_{ij}(x) = \frac{\partial s_i}{\partial x_j} = W_{ji}, \qquad
        \operatorname{div} s(x) = \operatorname{tr} W.

    The Gaussian N(m, S) has :math:`s(x) = -(x - m) S^{-1}`: W = -S^{-1}, b = m S^{-1}.

    Parameters
    ----------
    W : (d, d) array_like
        Weight matrix, finite.
    b : (d,) array_like
        Bias, finite.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score function (One-dimensional Gaussian
    distribution)' (the score of a Gaussian is linear in x); Hyvarinen, Estimation of
    Non-Normalized Statistical Models by Score Matching, JMLR 2005, Section 3 (the Gaussian case).

    Examples
    --------
    N(1, 1/2) has the score s(x) = -2 (x - 1): W = -2, b = 2, so s(0) = 2 and div s = tr W = -2:

    >>> model = LinearScore(np.full((1, 1), -2.0), np.full(1, 2.0))
    >>> model(np.zeros(1)).tolist(), float(model.divergence(np.zeros(1)))
    ([2.0], -2.0)
    """

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.W, self.b = _check_linear(W, b)

    @property
    def dim(self) -> int:
        return self.b.shape[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """s(x) = x W + b for x of shape (..., d); returns (..., d)."""
        x = _inputs("x", x, self.W, self.dim, f"d = {self.dim} from b")
        return x @ self.W + self.b

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Same as calling the model (the name ``nn.Module`` uses on the accelerated side)."""
        return self(x)

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """J[..., i, j] = d s_i / d x_j = W[j, i], the same for every point; x (..., d) -> (..., d, d)."""
        x = _inputs("x", x, self.W, self.dim, f"d = {self.dim} from b")
        return np.broadcast_to(self.W.T, (*x.shape[:-1], self.dim, self.dim)).copy()

    def divergence(self, x: np.ndarray) -> np.ndarray:
        """tr J = tr W for every point; x (..., d) -> (...)."""
        x = _inputs("x", x, self.W, self.dim, f"d = {self.dim} from b")
        return np.full(x.shape[:-1], np.trace(self.W))


class MLPScore:
    r"""One-hidden-layer tanh score model with optional conditioning and analytic Jacobian.

    .. math::

        h = \tanh([x, c]\, W_1 + b_1), \qquad s(x, c) = h W_2 + b_2,

        J_{ij} = \frac{\partial s_i}{\partial x_j} = \sum_h (W_2)_{hi}\, (1 - h_h^2)\, (W_1)_{jh},
        \qquad
        \operatorname{div}_x s = \operatorname{tr} J = \sum_h (1 - h_h^2) \sum_{i \le d} (W_1)_{ih} (W_2)_{hi}.

    The divergence is computed without forming J (O(H d) per point instead of O(H d^2)). Derivatives
    are with respect to x only; c is held fixed.

    Parameters
    ----------
    W1 : (d + k, H) array_like
        Input weights; the first d rows act on x, the last k on the conditioning c.
    b1 : (H,) array_like
        Hidden biases.
    W2 : (H, d) array_like
        Output weights (d is read from here).
    b2 : (d,) array_like
        Output bias.

    References
    ----------
    Isachenko, DGM Lecture 7, slides 'Score matching' and 'Denoising score matching'
    (s_{theta, sigma}); Song and Ermon, Generative Modeling by Estimating Gradients of the Data
    Distribution, NeurIPS 2019 (noise-conditional score networks).

    Examples
    --------
    At x = 0 with zero biases, h = tanh(0) = 0: s(0) = b2 = 0 and div s = sum_h W1[0, h] W2[h, 0] = 3 * 2
    (the formula above with 1 - h^2 = 1):

    >>> model = MLPScore(np.full((1, 1), 3.0), np.zeros(1), np.full((1, 1), 2.0), np.zeros(1))
    >>> model(np.zeros(1)).tolist(), float(model.divergence(np.zeros(1)))
    ([0.0], 6.0)
    """

    def __init__(self, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray) -> None:
        self.W1, self.b1, self.W2, self.b2 = _check_mlp(W1, b1, W2, b2)

    @property
    def dim(self) -> int:
        """The data dimension d."""
        return self.W2.shape[1]

    @property
    def cond_dim(self) -> int:
        """The conditioning dimension k (0: unconditional)."""
        return self.W1.shape[0] - self.dim

    def _hidden(self, x: object, c: object) -> tuple[np.ndarray, np.ndarray]:
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
            c = C.as_float64("c", c)
            if k == 1 and c.ndim >= 1 and c.shape == x.shape[:-1]:
                c = c[..., None]  # one level or time per point, as the losses and samplers pass sigma
            c = _inputs("c", c, self.W1, k, f"k = {k} from W1")
            batch = C.broadcast_batch(("x", "c"), (x.shape[:-1], c.shape[:-1]))
            x = np.broadcast_to(x, (*batch, self.dim))
            z = np.concatenate([x, np.broadcast_to(c, (*batch, k))], axis=-1)
        return x, np.tanh(z @ self.W1 + self.b1)

    def __call__(self, x: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
        """s(x, c) for x (..., d) and c (..., k) (batch axes broadcast; None when k = 0); returns (..., d).

        With k = 1, c may also have the batch shape of x, ``x.shape[:-1]``: one scalar per point, as
        :func:`reference.score_matching.ncsn_loss` and the Langevin samplers pass sigma.
        """
        _, h = self._hidden(x, c)
        return h @ self.W2 + self.b2

    def forward(self, x: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
        """Same as calling the model."""
        return self(x, c)

    def jacobian(self, x: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
        """J[..., i, j] = d s_i / d x_j = sum_h W2[h, i] (1 - h^2)_h W1[j, h]; returns (..., d, d)."""
        _, h = self._hidden(x, c)
        return np.einsum("hi,...h,jh->...ij", self.W2, 1.0 - h**2, self.W1[: self.dim])

    def divergence(self, x: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
        """tr J = sum_h (1 - h^2)_h sum_i W1[i, h] W2[h, i], without forming J; returns (...)."""
        _, h = self._hidden(x, c)
        v = np.sum(self.W1[: self.dim] * self.W2.T, axis=0)  # (H,): sum_i W1[i, h] W2[h, i]
        return (1.0 - h**2) @ v


class Flattened:
    r"""A score model of vectors applied to samples of any shape: the features are flattened and restored.

    .. math::

        s(x) = \operatorname{unvec}\bigl(s_{\text{inner}}(\operatorname{vec}(x))\bigr), \qquad
        J(x) = J_{\text{inner}}(\operatorname{vec}(x)),

    for samples x of shape ``(n, ...)`` with D features in all (an image ``(n, C, H, W)`` has
    D = C H W) and an inner model of ``(n, D)``. The Jacobian and its trace are those of the flattened
    map, which is what the score-matching objectives use for samples of any shape.

    Parameters
    ----------
    inner : LinearScore or MLPScore
        The model of flat vectors; conditioning arguments are passed through.

    Notes
    -----
    An empty batch (n = 0) gives the inner model's empty results, of shapes (0, ...), (0, D, D) and
    (0,): the flattening names D explicitly (a reshape to ``(0, -1)`` is ambiguous and raised NumPy's
    error).

    References
    ----------
    Isachenko, DGM Lecture 13, 'Noise Conditioned Score Network (NCSN)' (score models of images).

    Examples
    --------
    The identity-plus-one model on 2 x 2 images: s(x) = x + 1 keeps the image shape, and the trace of
    its Jacobian (the identity on the D = 4 flattened features) is 4:

    >>> model = Flattened(LinearScore(np.eye(4), np.ones(4)))
    >>> model(np.zeros((1, 2, 2))).tolist(), model.divergence(np.zeros((1, 2, 2))).tolist()
    ([[[1.0, 1.0], [1.0, 1.0]]], [4.0])
    """

    def __init__(self, inner: object) -> None:
        if not callable(inner):
            raise TypeError(f"inner: expected a score model of flat vectors, got {C.describe(inner)}")
        self.inner = inner

    @staticmethod
    def _flat(x: object) -> np.ndarray:
        x = C.as_float64("x", x)
        if x.ndim < 1:
            raise ValueError(f"x: expected samples of shape (n, ...), got shape {x.shape}")
        return x.reshape(x.shape[0], math.prod(x.shape[1:]))  # D explicit: -1 is ambiguous for n = 0

    def __call__(self, x: np.ndarray, *cond: np.ndarray) -> np.ndarray:
        """s(x) of the shape of x."""
        x = C.as_float64("x", x)
        return np.asarray(self.inner(self._flat(x), *cond)).reshape(x.shape)

    def divergence(self, x: np.ndarray, *cond: np.ndarray) -> np.ndarray:
        """tr J per sample, (n,)."""
        return self.inner.divergence(self._flat(x), *cond)

    def jacobian(self, x: np.ndarray, *cond: np.ndarray) -> np.ndarray:
        """The Jacobian of the flattened map, (n, D, D)."""
        return self.inner.jacobian(self._flat(x), *cond)


def init_mlp_params(d: int, hidden: int, *, cond_dim: int = 0, rng: np.random.Generator) -> dict[str, np.ndarray]:
    r"""Deterministic MLPScore parameters from a NumPy generator (LeCun-normal weights, zero biases).

    .. math::

        W_1 \sim \mathcal N(0, 1/(d + k)), \quad W_2 \sim \mathcal N(0, 1/H), \quad b_1 = 0, \quad b_2 = 0.

    Parameters
    ----------
    d : int
        Data dimension, >= 1.
    hidden : int
        Hidden width H, >= 1.
    cond_dim : int
        Conditioning dimension k, >= 0.
    rng : numpy.random.Generator
        Source of the weights (required: no global seeding).

    Returns
    -------
    dict
        ``{"W1": (d + k, H), "b1": (H,), "W2": (H, d), "b2": (d,)}`` float64 arrays, ready for
        ``MLPScore(**params)`` on either side (convert to tensors for the accelerated side).

    References
    ----------
    LeCun, Bottou, Orr, Mueller, Efficient BackProp, 1998, Section 4.6 (LeCun-normal initialisation) (beyond
    the slides).

    Examples
    --------
    The biases start at zero and W1 has d + k rows (the parametrisation above):

    >>> params = init_mlp_params(2, 8, cond_dim=1, rng=np.random.default_rng(0))
    >>> params["W1"].shape, params["b2"].tolist()
    ((3, 8), [0.0, 0.0])
    """
    d, hidden, cond_dim = A.count("d", d), A.count("hidden", hidden), A.count("cond_dim", cond_dim, minimum=0)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {C.describe(rng)}")
    n_in = d + cond_dim
    return {
        "W1": rng.standard_normal((n_in, hidden)) / np.sqrt(n_in),
        "b1": np.zeros(hidden),
        "W2": rng.standard_normal((hidden, d)) / np.sqrt(hidden),
        "b2": np.zeros(d),
    }
