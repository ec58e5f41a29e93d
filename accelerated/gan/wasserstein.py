r"""Wasserstein GAN in PyTorch: critic objective, weight clipping, interpolates, the gradient penalty.

Same formulas, names and parameters as :mod:`reference.gan.wasserstein` (Isachenko, DGM Lecture 7,
'WGAN objective'). The penalty takes the critic's input gradient with autograd (see
:mod:`accelerated.gan` for how, and under which modes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn

import reference._args.gan as G

from .. import _checks as C
from ._common import (
    _check_critic_draw,
    _check_critic_parameters,
    _check_critic_values,
    _check_gradients,
    _check_interpolation,
    _check_weights,
    _input_gradient,
    _require_finite,
    _require_finite_penalty,
)

__all__ = [
    "TanhCritic",
    "clip_weights",
    "gradient_penalty",
    "gradient_penalty_from_gradients",
    "interpolate",
    "wasserstein_critic_objective",
]


def wasserstein_critic_objective(f_real: torch.Tensor, f_fake: torch.Tensor) -> torch.Tensor:
    r"""WGAN critic objective, mean f(real) - mean f(fake); the critic maximises it.

    .. math::

        \frac1{n_r}\sum_i f(x_i) - \frac1{n_f}\sum_j f(G(z_j)).

    Parameters
    ----------
    f_real : (n_r,) or (n_r, 1) Tensor
        Critic values on real samples, finite.
    f_fake : (n_f,) or (n_f, 1) Tensor
        Critic values on generated samples, finite; same device, any floating dtype (promoted).

    Returns
    -------
    () Tensor
        The objective; float32 for half inputs, else the promoted dtype.

    Notes
    -----
    Both means are accumulated in float64 and the difference is cast to the result dtype; finiteness
    is checked on the float64 objective (one device assertion: it is finite exactly when the inputs are).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'WGAN objective'; Arjovsky, Chintala, Bottou, Wasserstein GAN,
    ICML 2017, eq. (3).

    Examples
    --------
    mean(1, 2, 3) - mean(0.5) = 1.5 (closed form):

    >>> float(wasserstein_critic_objective(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5])))
    1.5
    """
    f_real, f_fake = _check_critic_values(f_real, f_fake)
    acc = C.accumulation_dtype(torch.promote_types(f_real.dtype, f_fake.dtype))
    objective = f_real.mean(dtype=torch.float64) - f_fake.mean(dtype=torch.float64)
    _require_finite(objective, ("f_real", "f_fake"), (f_real, f_fake))
    return objective.to(acc)


def clip_weights(parameters: Iterable[torch.Tensor] | nn.Module | torch.Tensor, c: float) -> list[torch.Tensor]:
    r"""WGAN weight clipping *in place*: every parameter entry clamped to [-c, c].

    .. math::

        w \leftarrow \operatorname{clip}(w, -c, c).

    Works on the tensors themselves (as a training loop wants) and returns the same tensor objects;
    ``reference.gan.clip_weights`` returns copies instead.

    Parameters
    ----------
    parameters : nn.Module, iterable of Tensor, or one Tensor
        The critic (its ``parameters()`` are clipped) or the tensors / ``nn.Parameter`` s to clip,
        without NaN (+-inf entries go to +-c).
    c : float
        Clipping bound, finite and > 0.

    Returns
    -------
    list of Tensor
        The clipped tensors (the inputs, modified in place), in order.

    Notes
    -----
    Under ``torch.no_grad``, with the fused ``torch._foreach_clamp_min_`` / ``_foreach_clamp_max_`` per
    (device, dtype) group. A NaN entry is refused (``ValueError`` naming ``parameters[i]``, one device
    assertion per tensor, before any tensor is changed) rather than passed through as clamp would.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'WGAN objective'; Arjovsky, Chintala, Bottou, Wasserstein GAN,
    ICML 2017, Algorithm 1.

    Examples
    --------
    Entries beyond c = 1 go to the bound, the others stay (the definition of clip):

    >>> clip_weights([torch.tensor([-2.0, 0.5, 3.0])], 1.0)[0].tolist()
    [-1.0, 0.5, 1.0]
    """
    weights, c = _check_weights(parameters, c)
    groups: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for w in weights:
        groups.setdefault((w.device, w.dtype), []).append(w)
    with torch.no_grad():
        for group in groups.values():
            if hasattr(torch, "_foreach_clamp_min_") and hasattr(torch, "_foreach_clamp_max_"):
                torch._foreach_clamp_min_(group, -c)
                torch._foreach_clamp_max_(group, c)
            else:  # pragma: no cover - older PyTorch
                for w in group:
                    w.clamp_(-c, c)
    return weights


def interpolate(x_real: torch.Tensor, x_fake: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    r"""WGAN-GP interpolates, one coefficient per sample broadcast over the feature axes.

    .. math::

        \hat x_i = u_i\, x_i + (1 - u_i)\, \tilde x_i,

    Parameters
    ----------
    x_real, x_fake : (n, ...) Tensor
        Real and generated samples, same shape and device, finite; any floating dtypes (the result is
        in their promoted dtype: a generator under autocast may give bfloat16 samples of float32 data).
    noise : (n,) Tensor
        The coefficients u_i in [0, 1], same device; cast to the samples' dtype (coefficients, not
        data: they take the data's precision, as drawn by ``gradient_penalty(rng=...)``).

    Returns
    -------
    (n, ...) Tensor
        The interpolates (differentiable in all three inputs).

    Notes
    -----
    Computed as ``torch.lerp(x_fake, x_real, u)`` (one fused operation, exact at u = 0 and u = 1).

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, Algorithm 1.

    Examples
    --------
    u = 1/4 of the way from x-tilde = 0 to x = 4 is 1 (the segment's definition):

    >>> interpolate(torch.tensor([[4.0]]), torch.tensor([[0.0]]), torch.tensor([0.25])).tolist()
    [[1.0]]
    """
    x_real, x_fake, u = _check_interpolation(x_real, x_fake, noise)
    return _interpolate(x_real, x_fake, u)


def _interpolate(x_real: torch.Tensor, x_fake: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """lerp(x_fake, x_real, u) per sample, in the promoted dtype of the samples (inputs already checked)."""
    dtype = torch.promote_types(x_real.dtype, x_fake.dtype)
    u = u.to(dtype).reshape((-1,) + (1,) * (x_real.ndim - 1))
    return torch.lerp(x_fake.to(dtype), x_real.to(dtype), u)


def gradient_penalty_from_gradients(gradients: torch.Tensor, *, weight: float = 10.0) -> torch.Tensor:
    r"""WGAN-GP penalty lambda mean_i (||g_i||_2 - 1)^2, the norm over all feature axes.

    .. math::

        \lambda \, \frac1n \sum_i \bigl(\lVert g_i \rVert_2 - 1\bigr)^2.

    Parameters
    ----------
    gradients : (n, ...) Tensor
        Critic input gradients at the interpolates, finite.
    weight : float
        The penalty weight lambda > 0.

    Returns
    -------
    () Tensor
        The penalty; float32 for half gradients, else their dtype.

    Notes
    -----
    The norm is ``torch.linalg.vector_norm`` of each flattened sample (its gradient at g_i = 0 is 0),
    computed in float32 for half gradients. A penalty that overflows from finite gradients (entries
    near 1e300, or near 1e30 in float32, whose squares are beyond the range of the accumulation dtype)
    is refused with a ``ValueError`` naming ``gradients`` (:func:`accelerated._checks.check_result`: a
    device assertion, no host read), as on the reference.

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, eq. (3).

    Examples
    --------
    A gradient (3, 4) has norm 5: 10 (5 - 1)^2 = 160; a unit gradient costs nothing (closed form):

    >>> float(gradient_penalty_from_gradients(torch.tensor([[3.0, 4.0], [0.6, 0.8]])))
    80.0
    """
    g, lam = _check_gradients(gradients, "weight", weight)
    return C.check_result(_gradient_penalty(g, lam), (("gradients", g),))


def _gradient_penalty(g: torch.Tensor, lam: float) -> torch.Tensor:
    acc = C.accumulation_dtype(g.dtype)
    norm = torch.linalg.vector_norm(g.reshape(g.shape[0], math.prod(g.shape[1:])), dim=1, dtype=acc)
    return ((norm - 1.0) ** 2).mean() * lam


class TanhCritic(nn.Module):
    r"""One-hidden-layer tanh critic f(x) = a^T tanh(W^T vec(x) + b), as an ``nn.Module``.

    .. math::

        f(x) = a^\top \tanh(W^\top \operatorname{vec}(x) + b), \qquad
        \nabla_x f(x) = W\bigl((1 - h^2) \odot a\bigr).

    The twin of :class:`reference.gan.TanhCritic`: ``W``, ``b``, ``a`` become ``nn.Parameter`` s
    (copies of the given tensors, same dtype and device). :meth:`grad` gives the analytic input
    gradient; the penalties (:func:`gradient_penalty`, :func:`r1_penalty`, :func:`r2_penalty`) do not need it
    (they use autograd).

    Parameters
    ----------
    W : (D, H) Tensor
        Input weights.
    b : (H,) Tensor
        Hidden biases.
    a : (H,) Tensor
        Output weights.

    Notes
    -----
    A batch x whose dtype differs from the parameters' is evaluated in the promoted dtype of the two
    (``torch.promote_types``: float32 parameters on float64 x give float64 values and gradients, as the
    reference computes everything in float64) instead of failing inside ``matmul``; with matching
    dtypes the casts are no-ops. Samples x with NaN or infinite entries are refused with a
    ``ValueError`` naming ``x`` (a device assertion, no host read), as on the reference.

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017;
    Isachenko, DGM Lecture 7, slide 'WGAN objective'.

    Examples
    --------
    At x = 0 with b = 0, h = 0: f = 0 and the gradient is W a = 2 * 3 (closed form):

    >>> critic = TanhCritic(torch.tensor([[2.0]]), torch.zeros(1), torch.tensor([3.0]))
    >>> critic(torch.zeros(1, 1)).tolist(), critic.grad(torch.zeros(1, 1)).tolist()
    ([0.0], [[6.0]])
    """

    def __init__(self, W: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> None:
        super().__init__()
        W, b, a = _check_critic_parameters(W, b, a)
        self.W = nn.Parameter(W.detach().clone())
        self.b = nn.Parameter(b.detach().clone())
        self.a = nn.Parameter(a.detach().clone())

    def _hidden(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """h = tanh(W^T vec(x) + b) and the W, a used, all in the promoted dtype of x and the parameters."""
        x = C.as_float_tensor("x", x)
        G.critic_input("x", tuple(x.shape), tuple(self.W.shape))
        C.check_finite("x", x)  # a device assertion: inf * 0 or inf - inf inside W^T x would be NaN
        dtype = torch.promote_types(x.dtype, self.W.dtype)  # a no-op where they match
        W, b, a = self.W.to(dtype), self.b.to(dtype), self.a.to(dtype)
        return torch.tanh(x.reshape(x.shape[0], math.prod(x.shape[1:])).to(dtype) @ W + b), W, a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Critic values f(x_i), shape (n,), for samples x of shape (n, ...)."""
        h, _, a = self._hidden(x)
        return h @ a

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """Analytic gradient of sum_i f(x_i) with respect to x, shape like x."""
        h, W, a = self._hidden(x)
        return (((1.0 - h**2) * a) @ W.T).reshape(x.shape)


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    x_real: torch.Tensor,
    x_fake: torch.Tensor,
    *,
    weight: float = 10.0,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""WGAN-GP gradient penalty, differentiable in the critic's parameters.

    .. math::

        \lambda\, \frac1n \sum_i \bigl(\lVert \nabla_{\hat x} f(\hat x_i) \rVert_2 - 1\bigr)^2,
        \qquad \hat x_i = u_i\, x_i + (1 - u_i)\, \tilde x_i.

    x-hat is built from *detached* ``x_real`` and ``x_fake`` (the penalty trains the critic, not the
    generator); the input gradient has a graph to the critic's parameters, so ``penalty.backward()``
    trains them.

    Parameters
    ----------
    critic : callable
        Maps (n, ...) to critic values (n,) or (n, 1) (e.g. an ``nn.Module``); rows independent.
    x_real, x_fake : (n, ...) Tensor
        Real and generated samples, same shape and device, finite; any floating dtypes (promoted).
    weight : float
        The penalty weight lambda > 0.
    noise : (n,) Tensor, optional
        Coefficients u in [0, 1], same device (cast to the samples' dtype). Exactly one of ``noise``
        and ``rng``.
    rng : torch.Generator, optional
        On the samples' device: draws u with ``torch.rand`` there in the samples' dtype.

    Returns
    -------
    () Tensor
        The penalty; float32 for half samples, else their dtype.

    Notes
    -----
    Autograd runs inside even under ``torch.no_grad`` (the value then has no graph); no graph break
    under ``torch.compile`` on the ``noise=`` path (see :mod:`accelerated.gan`).

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, eq. (3), Algorithm 1;
    Isachenko, DGM Lecture 7, slide 'WGAN objective'.

    Examples
    --------
    f(x) = tanh(x) has gradient 1 at x = 0, a unit norm: no penalty (closed form):

    >>> critic = TanhCritic(torch.ones(1, 1), torch.zeros(1), torch.ones(1))
    >>> float(gradient_penalty(critic, torch.zeros(2, 1), torch.zeros(2, 1), noise=torch.tensor([0.3, 0.9])).detach())
    0.0
    """
    x_real, x_fake, lam, u = _check_critic_draw(critic, x_real, x_fake, weight, noise, rng)
    x_hat = _interpolate(x_real.detach(), x_fake.detach(), u)
    g = _input_gradient("critic", critic, x_hat)
    penalty = _gradient_penalty(g, lam)
    drawn = None if noise is None else u  # pre-drawn coefficients are checked in the same assertion
    _require_finite_penalty(penalty, x_hat, ("x_real", "x_fake"), (x_real, x_fake), "critic", g, drawn)
    return penalty
