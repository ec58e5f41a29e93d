r"""Wasserstein GAN: the critic objective, weight clipping, interpolates and the gradient penalty (WGAN-GP).

Slides: Isachenko, DGM Lecture 7, 'WGAN objective' (critic objective, weight clipping to [-c, c]; the
gradient penalty of Gulrajani et al. enforces the same Lipschitz constraint softly).

The reference side has no autograd: the penalties need an analytic critic with ``grad(x)``, such as
:class:`TanhCritic` (also the critic of :mod:`reference.gan.zero_centred`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

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
)

__all__ = [
    "TanhCritic",
    "clip_weights",
    "gradient_penalty",
    "gradient_penalty_from_gradients",
    "interpolate",
    "wasserstein_critic_objective",
]


def wasserstein_critic_objective(f_real: np.ndarray, f_fake: np.ndarray) -> np.ndarray:
    r"""WGAN critic objective, the Kantorovich-Rubinstein dual estimated from critic values.

    .. math::

        \mathbb{E}_{\pi(x)} f(x) - \mathbb{E}_{p(z)} f(G(z))
        \approx \frac1{n_r}\sum_i f(x_i) - \frac1{n_f}\sum_j f(G(z_j)).

    The critic *maximises* it (over K-Lipschitz f it equals K W(pi, p)); the generator minimises it.

    Parameters
    ----------
    f_real : (n_r,) or (n_r, 1) array_like
        Critic values on real samples, finite.
    f_fake : (n_f,) or (n_f, 1) array_like
        Critic values on generated samples, finite; n_f may differ from n_r.

    Returns
    -------
    () ndarray
        The objective.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'WGAN objective' and recap slide 'Kantorovich-Rubinstein
    duality'; Arjovsky, Chintala, Bottou, Wasserstein GAN, ICML 2017, eq. (3).

    Examples
    --------
    mean(1, 2, 3) - mean(0.5) = 1.5 (closed form):

    >>> float(wasserstein_critic_objective(np.array([1.0, 2.0, 3.0]), np.array([0.5])))
    1.5
    """
    f_real, f_fake = _check_critic_values(f_real, f_fake)
    E_real_f = np.mean(f_real)
    E_fake_f = np.mean(f_fake)
    return E_real_f - E_fake_f


def clip_weights(parameters: Iterable[np.ndarray], c: float) -> list[np.ndarray]:
    r"""WGAN weight clipping: every parameter entry clipped to [-c, c] (returns copies).

    .. math::

        w \leftarrow \operatorname{clip}(w, -c, c), \qquad \phi \in \Phi = [-c, c]^d.

    The reference returns new arrays and leaves its inputs unchanged; ``accelerated.gan.clip_weights``
    clips the tensors *in place* (as a training loop wants) and returns them.

    Parameters
    ----------
    parameters : iterable of array_like, or one array
        The critic's parameter arrays (any shapes), without NaN (+-inf entries go to +-c).
    c : float
        Clipping bound, finite and > 0.

    Returns
    -------
    list of ndarray
        Clipped float64 copies, in the input order.

    Notes
    -----
    A NaN entry is refused (``ValueError`` naming ``parameters[i]``) rather than passed through as
    clip would: a diverged critic is reported, not kept inside the compact set in name only.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'WGAN objective' (parameters in a compact set [-c, c]^d make f
    K-Lipschitz); Arjovsky, Chintala, Bottou, Wasserstein GAN, ICML 2017, Algorithm 1.

    Examples
    --------
    Entries beyond c = 1 go to the bound, the others stay (the definition of clip):

    >>> clip_weights([np.array([-2.0, 0.5, 3.0])], 1.0)[0].tolist()
    [-1.0, 0.5, 1.0]
    """
    weights, c = _check_weights(parameters, c)
    return [np.clip(w, -c, c) for w in weights]


def interpolate(x_real: np.ndarray, x_fake: np.ndarray, noise: np.ndarray) -> np.ndarray:
    r"""Random points on the segments between real and generated samples (the WGAN-GP x-hat).

    .. math::

        \hat x_i = u_i\, x_i + (1 - u_i)\, \tilde x_i, \qquad u_i \sim U[0, 1],

    one coefficient per sample, broadcast over all feature axes.

    Parameters
    ----------
    x_real, x_fake : (n, ...) array_like
        Real and generated samples, same shape, finite.
    noise : (n,) array_like
        The coefficients u_i, in [0, 1].

    Returns
    -------
    (n, ...) ndarray
        The interpolates x-hat.

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, Algorithm 1, line 6;
    Isachenko, DGM Lecture 7, slide 'WGAN objective' (the Lipschitz constraint it serves).

    Examples
    --------
    u = 1/4 of the way from x-tilde = 0 to x = 4 is 1 (the segment's definition):

    >>> interpolate(np.array([[4.0]]), np.array([[0.0]]), np.array([0.25])).tolist()
    [[1.0]]
    """
    x_real, x_fake, u = _check_interpolation(x_real, x_fake, noise)
    u = u.reshape((-1,) + (1,) * (x_real.ndim - 1))
    return u * x_real + (1.0 - u) * x_fake


def gradient_penalty_from_gradients(gradients: np.ndarray, *, weight: float = 10.0) -> np.ndarray:
    r"""WGAN-GP penalty from the critic's input gradients at the interpolates.

    .. math::

        \lambda \, \frac1n \sum_i \bigl(\lVert \nabla_{\hat x} f(\hat x_i) \rVert_2 - 1\bigr)^2,

    the Euclidean norm taken over all feature axes of each sample.

    Parameters
    ----------
    gradients : (n, ...) array_like
        g_i = grad f(x-hat_i), finite.
    weight : float
        The penalty weight lambda > 0 (10 in the paper).

    Returns
    -------
    () ndarray
        The penalty.

    Notes
    -----
    A penalty that overflows float64 from finite gradients (entries near 1e300, whose squares are beyond
    the float range) is refused with a ``ValueError`` naming ``gradients``
    (:func:`reference._checks.check_result`); never returned as inf.

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, eq. (3);
    Isachenko, DGM Lecture 7, slide 'WGAN objective'.

    Examples
    --------
    A gradient (3, 4) has norm 5: 10 (5 - 1)^2 = 160; a unit gradient costs nothing (closed form):

    >>> float(gradient_penalty_from_gradients(np.array([[3.0, 4.0], [0.6, 0.8]])))
    80.0
    """
    g, lam = _check_gradients(gradients, "weight", weight)
    with np.errstate(over="ignore"):
        norm = np.linalg.norm(g.reshape(g.shape[0], -1), axis=1)
        penalty = lam * np.mean((norm - 1.0) ** 2)
    return C.check_result(penalty, [("gradients", g)])


class TanhCritic:
    r"""A one-hidden-layer tanh critic with an analytic input gradient.

    .. math::

        f(x) = a^\top \tanh(W^\top \operatorname{vec}(x) + b), \qquad
        \nabla_x f(x) = W\bigl((1 - h^2) \odot a\bigr), \quad h = \tanh(W^\top \operatorname{vec}(x) + b).

    The reference side computes critic gradients analytically (it has no autograd), so
    :func:`gradient_penalty`, :func:`r1_penalty` and :func:`r2_penalty` need a critic with a ``grad``
    method; this is the one the crosscheck uses, with the same parameters as
    ``accelerated.gan.TanhCritic``.

    Parameters
    ----------
    W : (D, H) array_like
        Input weights; D is the number of features of one flattened sample.
    b : (H,) array_like
        Hidden biases.
    a : (H,) array_like
        Output weights.

    Notes
    -----
    Samples x with NaN or infinite entries are refused with a ``ValueError`` naming ``x`` (an infinite
    entry times a zero weight, or infinities of both signs, made the values NaN).

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017 (the critic f);
    Isachenko, DGM Lecture 7, slide 'WGAN objective'.

    Examples
    --------
    At x = 0 with b = 0, h = 0: f = 0 and the gradient is W a = 2 * 3 (closed form):

    >>> critic = TanhCritic(np.array([[2.0]]), np.zeros(1), np.array([3.0]))
    >>> critic(np.zeros((1, 1))).tolist(), critic.grad(np.zeros((1, 1))).tolist()
    ([0.0], [[6.0]])
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, a: np.ndarray) -> None:
        self.W, self.b, self.a = _check_critic_parameters(W, b, a)

    def _hidden(self, x: object) -> tuple[np.ndarray, np.ndarray]:
        x = C.as_float64("x", x)
        G.critic_input("x", x.shape, self.W.shape)
        C.check_finite("x", x)  # inf * 0 or inf - inf inside W^T x would be NaN
        return x, np.tanh(x.reshape(x.shape[0], -1) @ self.W + self.b)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Critic values f(x_i), shape (n,), for samples x of shape (n, ...)."""
        _, h = self._hidden(x)
        return h @ self.a

    def grad(self, x: np.ndarray) -> np.ndarray:
        """Gradient of sum_i f(x_i) with respect to x (i.e. each row's own gradient), shape like x."""
        x, h = self._hidden(x)
        return (((1.0 - h**2) * self.a) @ self.W.T).reshape(x.shape)


def gradient_penalty(
    critic: object,
    x_real: np.ndarray,
    x_fake: np.ndarray,
    *,
    weight: float = 10.0,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""WGAN-GP gradient penalty of a critic at random interpolates of real and generated samples.

    .. math::

        \lambda\, \mathbb{E}_{\hat x}\bigl(\lVert \nabla_{\hat x} f(\hat x) \rVert_2 - 1\bigr)^2,
        \qquad \hat x = u\, x + (1 - u)\, \tilde x, \quad u \sim U[0, 1].

    Parameters
    ----------
    critic : object
        An analytic critic: ``critic(x)`` gives f on a batch ``(n, ...)`` as an ndarray (n,) or (n, 1)
        (checked, as the accelerated side, which differentiates it) and ``critic.grad(x)`` the
        gradient of ``sum(critic(x))`` with respect to ``x`` (e.g. :class:`TanhCritic`). The
        reference has no autograd, so a critic without ``grad`` is refused.
    x_real, x_fake : (n, ...) array_like
        Real and generated samples.
    weight : float
        The penalty weight lambda > 0.
    noise : (n,) array_like, optional
        The interpolation coefficients u in [0, 1]. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws u = ``rng.random(n)`` when ``noise`` is not given.

    Returns
    -------
    () ndarray
        The penalty.

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, eq. (3) and Algorithm 1;
    Isachenko, DGM Lecture 7, slide 'WGAN objective'.

    Examples
    --------
    f(x) = tanh(x) has gradient 1 at x = 0, a unit norm: no penalty (closed form):

    >>> critic = TanhCritic(np.ones((1, 1)), np.zeros(1), np.ones(1))
    >>> float(gradient_penalty(critic, np.zeros((2, 1)), np.zeros((2, 1)), noise=np.array([0.3, 0.9])))
    0.0
    """
    x_real, u = _check_critic_draw(critic, x_real, noise, rng)
    x_hat = interpolate(x_real, x_fake, u)
    g = _input_gradient("critic", critic, x_hat)
    return gradient_penalty_from_gradients(g, weight=weight)
