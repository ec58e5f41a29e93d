r"""Zero-centred gradient penalties R1 and R2 in PyTorch, differentiable in the discriminator's parameters.

Same formulas, names and parameters as :mod:`reference.gan.zero_centred` (beyond the slides: Mescheder,
Geiger, Nowozin 2018, eq. (9) and (10)). The input gradient is taken with autograd, as for
:func:`accelerated.gan.gradient_penalty` (see :mod:`accelerated.gan`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import _checks as C
from ._common import _check_discriminator_samples, _check_gradients, _input_gradient, _require_finite_penalty
from .wasserstein import TanhCritic  # noqa: F401  (the examples' discriminator)

__all__ = ["r1_penalty", "r1_penalty_from_gradients", "r2_penalty"]


def r1_penalty_from_gradients(gradients: torch.Tensor, *, gamma: float) -> torch.Tensor:
    r"""Zero-centred penalty gamma/2 mean_i ||g_i||^2 (R1 at real samples, R2 at generated ones).

    .. math::

        \frac{\gamma}{2}\, \frac1n \sum_i \lVert g_i \rVert_2^2,

    the squared norm over all feature axes.

    Parameters
    ----------
    gradients : (n, ...) Tensor
        Discriminator input gradients, finite.
    gamma : float
        The penalty weight gamma > 0 (required).

    Returns
    -------
    () Tensor
        The penalty, >= 0; float32 for half gradients, else their dtype.

    Notes
    -----
    Summed in float32 for half gradients (the squares of float16 gradients above 256 would overflow).
    A penalty that overflows from finite gradients (entries near 1e300, or near 1e30 in float32) is
    refused with a ``ValueError`` naming ``gradients`` (:func:`accelerated._checks.check_result`: a
    device assertion, no host read), as on the reference.

    References
    ----------
    Mescheder, Geiger, Nowozin, Which Training Methods for GANs do actually Converge?, ICML 2018,
    eq. (9) and (10).

    Examples
    --------
    ||(3, 4)||^2 = 25, times gamma / 2 = 1 (closed form):

    >>> float(r1_penalty_from_gradients(torch.tensor([[3.0, 4.0]]), gamma=2.0))
    25.0
    """
    g, gamma = _check_gradients(gradients, "gamma", gamma)
    return C.check_result(_r1_penalty(g, gamma), (("gradients", g),))


def _r1_penalty(g: torch.Tensor, gamma: float) -> torch.Tensor:
    # mean over samples of the squared norm over features = (sum of all squares) / n: three operations.
    return g.to(C.accumulation_dtype(g.dtype)).square().sum() * (0.5 * gamma / g.shape[0])


def r1_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor], x_real: torch.Tensor, *, gamma: float
) -> torch.Tensor:
    r"""R1 penalty gamma/2 E_{p_data} ||grad_x D(x)||^2 at the real samples, differentiable in D's parameters.

    .. math::

        R_1 = \frac{\gamma}{2}\, \frac1n \sum_i \lVert \nabla_x D(x_i) \rVert^2,

    D the discriminator's logit. The gradient is taken at the *detached* ``x_real`` with a graph to the
    discriminator's parameters (``penalty.backward()`` reaches them).

    Parameters
    ----------
    discriminator : callable
        Maps (n, ...) to logits (n,) or (n, 1) (e.g. an ``nn.Module``); rows independent.
    x_real : (n, ...) Tensor
        Real samples, finite.
    gamma : float
        The penalty weight gamma > 0 (required).

    Returns
    -------
    () Tensor
        The penalty, >= 0; float32 for half samples, else their dtype.

    Notes
    -----
    Autograd runs inside even under ``torch.no_grad`` (the value then has no graph); no graph break
    under ``torch.compile`` (see :mod:`accelerated.gan`).

    References
    ----------
    Mescheder, Geiger, Nowozin, Which Training Methods for GANs do actually Converge?, ICML 2018,
    eq. (9).

    Examples
    --------
    D(x) = 3 tanh(2 x) has gradient 6 at x = 0: gamma / 2 * 36 = 18 at gamma = 1 (closed form):

    >>> D = TanhCritic(torch.tensor([[2.0]]), torch.zeros(1), torch.tensor([3.0]))
    >>> float(r1_penalty(D, torch.zeros(3, 1), gamma=1.0).detach())
    18.0
    """
    return _zero_centred_penalty(discriminator, "x_real", x_real, gamma)


def r2_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor], x_fake: torch.Tensor, *, gamma: float
) -> torch.Tensor:
    r"""R2 penalty gamma/2 E_{p_G} ||grad_x D(x)||^2 at the generated samples, differentiable in D's parameters.

    .. math::

        R_2 = \frac{\gamma}{2}\, \frac1n \sum_j \lVert \nabla_x D(\tilde x_j) \rVert^2.

    Same conventions as :func:`r1_penalty`; ``x_fake`` is detached (no gradient to the generator).

    Parameters
    ----------
    discriminator : callable
        Maps (n, ...) to logits (n,) or (n, 1).
    x_fake : (n, ...) Tensor
        Generated samples, finite.
    gamma : float
        The penalty weight gamma > 0 (required).

    Returns
    -------
    () Tensor
        The penalty, >= 0; float32 for half samples, else their dtype.

    References
    ----------
    Mescheder, Geiger, Nowozin, Which Training Methods for GANs do actually Converge?, ICML 2018,
    eq. (10).

    Examples
    --------
    D(x) = 3 tanh(2 x) has gradient 6 at x = 0: gamma / 2 * 36 = 3.6 at gamma = 0.2 (closed form):

    >>> D = TanhCritic(torch.tensor([[2.0]]), torch.zeros(1), torch.tensor([3.0]))
    >>> round(float(r2_penalty(D, torch.zeros(2, 1), gamma=0.2).detach()), 6)
    3.6
    """
    return _zero_centred_penalty(discriminator, "x_fake", x_fake, gamma)


def _zero_centred_penalty(discriminator: object, name: str, x: object, gamma: float) -> torch.Tensor:
    """R1 (``name='x_real'``) or R2 (``'x_fake'``) of a callable discriminator, with its finiteness assertion."""
    x, gamma = _check_discriminator_samples(discriminator, name, x, gamma)
    g = _input_gradient("discriminator", discriminator, x)
    penalty = _r1_penalty(g, gamma)
    _require_finite_penalty(penalty, x, (name,), (x,), "discriminator", g)
    return penalty
