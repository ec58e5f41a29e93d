r"""Zero-centred gradient penalties R1 (at real samples) and R2 (at generated samples).

Beyond the slides: Mescheder, Geiger, Nowozin 2018, Which Training Methods for GANs do actually
Converge?, eq. (9) and (10); they regularise the discriminator of the slides' GAN (Advanced Course on
DGM, Lecture 8, 'GAN training algorithm'). The reference side has no autograd: the discriminator must
be analytic, with ``grad(x)`` (e.g. :class:`reference.gan.TanhCritic`).
"""

from __future__ import annotations

import numpy as np

from .. import _checks as C
from ._common import _check_discriminator_samples, _check_gradients, _input_gradient
from .wasserstein import TanhCritic  # noqa: F401  (the examples' discriminator)

__all__ = ["r1_penalty", "r1_penalty_from_gradients", "r2_penalty"]


def r1_penalty_from_gradients(gradients: np.ndarray, *, gamma: float) -> np.ndarray:
    r"""Zero-centred gradient penalty gamma/2 E ||g||^2 from the discriminator's input gradients.

    .. math::

        \frac{\gamma}{2}\, \frac1n \sum_i \lVert g_i \rVert_2^2,
        \qquad g_i = \nabla_x D(x)\big|_{x = x_i},

    the squared Euclidean norm taken over all feature axes of each sample. With gradients at real
    samples this is R1, at generated samples R2 (:func:`r1_penalty`, :func:`r2_penalty`).

    Parameters
    ----------
    gradients : (n, ...) array_like
        g_i, finite.
    gamma : float
        The penalty weight gamma > 0 (required: the paper tunes it per data set, no value fits all).

    Returns
    -------
    () ndarray
        The penalty, >= 0.

    Notes
    -----
    A penalty that overflows float64 from finite gradients (entries near 1e300, whose squares are beyond
    the float range) is refused with a ``ValueError`` naming ``gradients``
    (:func:`reference._checks.check_result`); never returned as inf.

    References
    ----------
    Mescheder et al. 2018, eq. (9) and (10); Mescheder, Geiger, Nowozin, Which Training Methods for GANs do
    actually Converge?, ICML 2018. Beyond the slides.

    Examples
    --------
    ||(3, 4)||^2 = 25, times gamma / 2 = 1 (closed form):

    >>> float(r1_penalty_from_gradients(np.array([[3.0, 4.0]]), gamma=2.0))
    25.0
    """
    g, gamma = _check_gradients(gradients, "gamma", gamma)
    with np.errstate(over="ignore"):
        squared_norm = np.sum(g.reshape(g.shape[0], -1) ** 2, axis=1)
        penalty = 0.5 * gamma * np.mean(squared_norm)
    return C.check_result(penalty, [("gradients", g)])


def r1_penalty(discriminator: object, x_real: np.ndarray, *, gamma: float) -> np.ndarray:
    r"""R1 penalty: gamma/2 E_{p_data} ||grad_x D(x)||^2 on real samples.

    .. math::

        R_1 = \frac{\gamma}{2}\, \mathbb{E}_{x \sim p_{\text{data}}} \lVert \nabla_x D(x) \rVert^2
        \approx \frac{\gamma}{2}\, \frac1n \sum_i \lVert \nabla_x D(x_i) \rVert^2,

    with D the discriminator's logit (pre-sigmoid output). It penalises the discriminator for a
    non-zero gradient on the data manifold, which makes GAN training locally convergent (for
    Dirac-GAN and, in the paper's analysis, in general at a realisable equilibrium).

    Parameters
    ----------
    discriminator : object
        An analytic discriminator: ``discriminator(x)`` gives an ndarray of logits (n,) or (n, 1) (checked,
        as the accelerated side, which differentiates it) and ``discriminator.grad(x)`` the gradient of
        ``sum(discriminator(x))`` in x (e.g. :class:`TanhCritic`); the reference has no autograd.
    x_real : (n, ...) array_like
        Real samples, finite.
    gamma : float
        The penalty weight gamma > 0 (required).

    Returns
    -------
    () ndarray
        The penalty, >= 0.

    References
    ----------
    Mescheder et al. 2018, eq. (9); Mescheder, Geiger, Nowozin, Which Training Methods for GANs do
    actually Converge?, ICML 2018. Beyond the slides.

    Examples
    --------
    D(x) = 3 tanh(2 x) has gradient 6 at x = 0: gamma / 2 * 36 = 18 at gamma = 1 (closed form):

    >>> D = TanhCritic(np.array([[2.0]]), np.zeros(1), np.array([3.0]))
    >>> float(r1_penalty(D, np.zeros((3, 1)), gamma=1.0))
    18.0
    """
    return _zero_centred_penalty(discriminator, "x_real", x_real, gamma)


def r2_penalty(discriminator: object, x_fake: np.ndarray, *, gamma: float) -> np.ndarray:
    r"""R2 penalty: gamma/2 E_{p_G} ||grad_x D(x)||^2 on generated samples.

    .. math::

        R_2 = \frac{\gamma}{2}\, \mathbb{E}_{x \sim p_G} \lVert \nabla_x D(x) \rVert^2
        \approx \frac{\gamma}{2}\, \frac1n \sum_j \lVert \nabla_x D(\tilde x_j) \rVert^2.

    Parameters
    ----------
    discriminator : object
        An analytic discriminator with ``grad(x)``, as for :func:`r1_penalty`.
    x_fake : (n, ...) array_like
        Generated samples, finite.
    gamma : float
        The penalty weight gamma > 0 (required).

    Returns
    -------
    () ndarray
        The penalty, >= 0.

    References
    ----------
    Mescheder et al. 2018, eq. (10); Mescheder, Geiger, Nowozin, Which Training Methods for GANs do
    actually Converge?, ICML 2018. Beyond the slides.

    Examples
    --------
    D(x) = 3 tanh(2 x) has gradient 6 at x = 0: gamma / 2 * 36 = 3.6 at gamma = 0.2 (closed form):

    >>> D = TanhCritic(np.array([[2.0]]), np.zeros(1), np.array([3.0]))
    >>> round(float(r2_penalty(D, np.zeros((2, 1)), gamma=0.2)), 12)
    3.6
    """
    return _zero_centred_penalty(discriminator, "x_fake", x_fake, gamma)


def _zero_centred_penalty(discriminator: object, name: str, x: object, gamma: float) -> np.ndarray:
    """R1 (``name='x_real'``) or R2 (``'x_fake'``) of an analytic discriminator."""
    x, gamma = _check_discriminator_samples(discriminator, name, x, gamma)
    return r1_penalty_from_gradients(_input_gradient("discriminator", discriminator, x), gamma=gamma)
