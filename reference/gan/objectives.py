"""Generative adversarial networks: value function, optimal discriminator, losses, WGAN, R1/R2, truncation, C2ST.

Slides implemented
------------------
* Advanced Course on DGM, Lecture 8: GANs, Samples, Energy/Score-based models:
  'Two-Sample Tests' and the log-odds slide after them (classifier two-sample test),
  'Discriminator Training Objective' (V(G, D) and D*), 'Generator Training Objective',
  'For an Optimal Discriminator' (V(G, D*) = 2 JSD - log 4), 'GAN training algorithm'.
* Isachenko, Deep Generative Models, Lecture 7: recap slides 'GAN optimality theorem' and
  'Main problems of standard GAN' (non-saturating generator loss), 'WGAN objective'
  (critic objective, weight clipping to [-c, c]; the gradient penalty of Gulrajani et al. enforces the
  same Lipschitz constraint softly), 'Truncation trick' (BigGAN truncated normal, StyleGAN psi).
* Beyond the slides: the hinge loss (Lim and Ye 2017, Geometric GAN; Miyato et al. 2018, Spectral
  Normalization, eq. (17)) and the R1 / R2 gradient penalties (Mescheder, Geiger, Nowozin 2018,
  Which Training Methods for GANs do actually Converge?, eq. (9) and (10)).

Conventions: discriminator outputs ``D`` are probabilities in [0, 1]; *logits* are ``l = logit(D)``
and all logit-form losses use the stable softplus ``log(1 + e^l) = logaddexp(0, l)``, never
``log(sigmoid(l))``, so logits of +-1000 give exact finite losses.

Shapes: every per-sample GAN quantity (``d_real`` / ``d_fake`` of :func:`gan_value`, the logits of
:func:`discriminator_loss` and :func:`generator_loss`, the critic values of
:func:`wasserstein_critic_objective`) has shape ``(n,)`` or ``(n, 1)``: one value per sample along the
first axis, so the ``(n, 1)`` output of a final ``Linear(h, 1)`` layer goes in as it is. The result is
a 0-d scalar (the mean over the samples). The real and the generated set may have different sizes n.
Any other shape, a 0-d value, ``(n, 2)`` or leading batch axes, is refused with a ``ValueError``: a
silent broadcast of ``(n, 1)`` against ``(n,)`` or a mean over the wrong axis would give a loss of the
wrong shape or value. Critic and discriminator inputs ``x`` have shape ``(n, ...)``: one sample per
row, any number of feature axes; gradient norms are taken over all feature axes.

One-sided names: none.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
from scipy import special, stats

from . import _checks as C

__all__ = [
    "C2STResult",
    "TanhCritic",
    "classifier_two_sample_test",
    "clip_weights",
    "discriminator_loss",
    "gan_value",
    "generator_loss",
    "gradient_penalty",
    "gradient_penalty_from_gradients",
    "interpolate",
    "optimal_discriminator",
    "optimal_discriminator_logit",
    "r1_penalty",
    "r1_penalty_from_gradients",
    "r2_penalty",
    "truncate_latent",
    "truncated_normal",
    "wasserstein_critic_objective",
]

DISCRIMINATOR_LOSS_KINDS = ("cross_entropy", "hinge")
GENERATOR_LOSS_KINDS = ("minimax", "non_saturating", "hinge")

# C2ST Newton solve: squared Newton decrement below which the full step is taken (see _logistic_newton).
_FULL_STEP_DECREMENT = 1e-10


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)), exact to rounding for every x including +-inf."""
    return np.logaddexp(0.0, x)


def _per_sample(name: str, x: object) -> np.ndarray:
    """Per-sample values of shape (n,) or (n, 1) with n >= 1, as a float64 vector of shape (n,)."""
    x = C.as_float64(name, x)
    if not ((x.ndim == 1 or (x.ndim == 2 and x.shape[1] == 1)) and x.shape[0] > 0):
        raise ValueError(
            f"{name}: expected shape (n,) or (n, 1), one value per sample along the first axis (n >= 1), "
            f"got shape {x.shape}"
        )
    return x.reshape(-1)


def _kind(kind: object, kinds: tuple[str, ...]) -> str:
    """A loss kind: a str among ``kinds`` (TypeError for a non-str, ValueError for an unknown one)."""
    if not isinstance(kind, str):
        raise TypeError(f"kind: expected a str, one of {kinds}, got {C.describe(kind)}")
    if kind not in kinds:
        raise ValueError(f"kind: expected one of {kinds}, got {kind!r}")
    return kind


def _batch(name: str, x: object) -> np.ndarray:
    """A float64 array of shape (n, ...) with n >= 1 samples along the first axis."""
    x = C.as_float64(name, x)
    C.check_ndim(name, x, 1)
    if x.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample along the first axis, got shape {x.shape}")
    return x


# --------------------------------------------------------------------------- value and discriminator


def gan_value(d_real: np.ndarray, d_fake: np.ndarray) -> np.ndarray:
    r"""GAN value function V(G, D) estimated from discriminator outputs on real and generated samples.

    .. math::

        V(G, D) = \mathbb{E}_{x \sim p_{\text{data}}} \log D(x)
                + \mathbb{E}_{x \sim p_G} \log\bigl(1 - D(x)\bigr)
        \approx \frac1{n_r} \sum_i \log D(x_i) + \frac1{n_f} \sum_j \log\bigl(1 - D(\tilde x_j)\bigr).

    ``log(1 - D)`` is ``log1p(-D)``, exact for small ``D``. ``D = 0`` on a real sample or ``D = 1`` on
    a generated one gives ``-inf``, the correct value.

    Parameters
    ----------
    d_real : (n_r,) or (n_r, 1) array_like
        D(x) on real samples, values in [0, 1].
    d_fake : (n_f,) or (n_f, 1) array_like
        D(G(z)) on generated samples, values in [0, 1]; n_f may differ from n_r.

    Returns
    -------
    () ndarray
        V(G, D) <= 0 (natural log).

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective';
    Isachenko, DGM Lecture 7, recap slide 'GAN optimality theorem';
    Goodfellow et al., Generative Adversarial Networks, NeurIPS 2014, eq. (1).
    """
    d_real = _per_sample("d_real", d_real)
    d_fake = _per_sample("d_fake", d_fake)
    C.check_in_interval("d_real", d_real, 0.0, 1.0)  # NaN included
    C.check_in_interval("d_fake", d_fake, 0.0, 1.0)
    with np.errstate(divide="ignore"):
        log_D_real = np.log(d_real)
        log_one_minus_D_fake = np.log1p(-d_fake)
    return np.mean(log_D_real) + np.mean(log_one_minus_D_fake)


def optimal_discriminator(p_data: np.ndarray, p_model: np.ndarray) -> np.ndarray:
    r"""Optimal discriminator D*(x) for a fixed generator, from the two densities at x.

    .. math::

        D^*_G(x) = \frac{p_{\text{data}}(x)}{p_{\text{data}}(x) + p_G(x)}.

    Where both densities vanish the result is 1/2: x then lies off both supports, so D*(x) enters
    neither expectation of V(G, D) and any value maximises V; 1/2 is the value that makes
    D* = 1/2 hold everywhere when p_G = p_data, and it agrees with
    :func:`optimal_discriminator_logit` (logit 0 there).

    Parameters
    ----------
    p_data, p_model : (...) array_like
        Density (or probability) values p_data(x) and p_G(x), finite and non-negative; broadcast.
        Their sum must not overflow (densities below 8e307 in float64).

    Returns
    -------
    (...) ndarray
        D*(x) in [0, 1].

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective';
    Goodfellow et al., Generative Adversarial Networks, NeurIPS 2014, Proposition 1.
    """
    p_data = C.as_float64("p_data", p_data)
    p_model = C.as_float64("p_model", p_model)
    for name, p in (("p_data", p_data), ("p_model", p_model)):
        C.check_finite(name, p)
        if np.any(p < 0):
            raise ValueError(f"{name}: expected non-negative density values, got min {np.min(p)!r}")
    C.broadcast_batch(("p_data", "p_model"), (p_data.shape, p_model.shape))
    total = p_data + p_model
    D_star = p_data / np.where(total > 0, total, 1.0)
    return np.where(total > 0, D_star, 0.5)


def optimal_discriminator_logit(log_p_data: np.ndarray, log_p_model: np.ndarray) -> np.ndarray:
    r"""Logit of the optimal discriminator: the log density ratio.

    .. math::

        \operatorname{logit} D^*_G(x) = \log \frac{p_{\text{data}}(x)}{p_G(x)}
        = \log p_{\text{data}}(x) - \log p_G(x), \qquad D^* = \sigma(\operatorname{logit} D^*).

    A log-density of ``-inf`` (density 0) is allowed: the logit is ``+-inf`` when one density
    vanishes, and 0 when both do (consistent with D* = 1/2 off both supports, see
    :func:`optimal_discriminator`).

    Parameters
    ----------
    log_p_data, log_p_model : (...) array_like
        Log-densities; ``-inf`` allowed, ``+inf`` and NaN rejected; broadcast.

    Returns
    -------
    (...) ndarray
        log p_data(x) - log p_G(x), possibly +-inf.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective'
    (D* = sigma(log p_data / p_G)) and the log-odds slide after 'Two-Sample Tests';
    Goodfellow et al., Generative Adversarial Networks, NeurIPS 2014, Proposition 1.
    """
    log_p_data = C.as_float64("log_p_data", log_p_data)
    log_p_model = C.as_float64("log_p_model", log_p_model)
    for name, log_p in (("log_p_data", log_p_data), ("log_p_model", log_p_model)):
        C.check_not_nan(name, log_p)
        if np.any(np.isposinf(log_p)):
            raise ValueError(f"{name}: expected log-densities < +inf (-inf allowed), got +inf")
    C.broadcast_batch(("log_p_data", "log_p_model"), (log_p_data.shape, log_p_model.shape))
    both_zero = np.isneginf(log_p_data) & np.isneginf(log_p_model)
    with np.errstate(invalid="ignore"):
        logit = log_p_data - log_p_model
    return np.where(both_zero, 0.0, logit)


# --------------------------------------------------------------------------- losses in logit form


def discriminator_loss(logits_real: np.ndarray, logits_fake: np.ndarray, *, kind: str = "cross_entropy") -> np.ndarray:
    r"""Discriminator loss from logits: the binary cross-entropy -V(G, D) (default) or the hinge loss.

    ``kind='cross_entropy'``: with :math:`D = \sigma(l)`, :math:`-\log D = \operatorname{softplus}(-l)`
    and :math:`-\log(1 - D) = \operatorname{softplus}(l)`, so

    .. math::

        \mathcal{L}_D = -V(G, D) = \frac1{n_r}\sum_i \operatorname{softplus}(-l_i)
                      + \frac1{n_f}\sum_j \operatorname{softplus}(\tilde l_j),
        \qquad \operatorname{softplus}(t) = \log(1 + e^t).

    ``kind='hinge'`` (Geometric GAN; the loss of spectrally normalised GANs):

    .. math::

        \mathcal{L}_D^{\text{hinge}} = \frac1{n_r}\sum_i \max(0, 1 - l_i)
                                   + \frac1{n_f}\sum_j \max(0, 1 + \tilde l_j).

    Parameters
    ----------
    logits_real : (n_r,) or (n_r, 1) array_like
        Discriminator logits on real samples (label 1); +-inf allowed, NaN rejected.
    logits_fake : (n_f,) or (n_f, 1) array_like
        Discriminator logits on generated samples (label 0); n_f may differ from n_r.
    kind : {'cross_entropy', 'hinge'}
        Which loss; the default is the slide's cross-entropy.

    Returns
    -------
    () ndarray
        The loss the discriminator minimises, >= 0.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective' ("binary
    classification with the cross entropy objective"); Goodfellow et al., NeurIPS 2014, eq. (1);
    hinge: Lim and Ye, Geometric GAN, arXiv:1705.02894, 2017; Miyato et al., Spectral Normalization
    for Generative Adversarial Networks, ICLR 2018, eq. (16) and (17).
    """
    kind = _kind(kind, DISCRIMINATOR_LOSS_KINDS)
    l_real = _per_sample("logits_real", logits_real)
    l_fake = _per_sample("logits_fake", logits_fake)
    C.check_not_nan("logits_real", l_real)
    C.check_not_nan("logits_fake", l_fake)
    if kind == "hinge":
        return np.mean(np.maximum(0.0, 1.0 - l_real)) + np.mean(np.maximum(0.0, 1.0 + l_fake))
    return np.mean(_softplus(-l_real)) + np.mean(_softplus(l_fake))


def generator_loss(logits_fake: np.ndarray, *, kind: str) -> np.ndarray:
    r"""Generator loss from logits: saturating ("minimax"), "non_saturating", or "hinge".

    .. math::

        \text{minimax:}\quad \mathcal{L}_G = \frac1n \sum_j \log\bigl(1 - D(G(z_j))\bigr)
            = -\frac1n \sum_j \operatorname{softplus}(l_j),
        \qquad
        \text{non\_saturating:}\quad \mathcal{L}_G = -\frac1n \sum_j \log D(G(z_j))
            = \frac1n \sum_j \operatorname{softplus}(-l_j),

    .. math::

        \text{hinge:}\quad \mathcal{L}_G = -\frac1n \sum_j l_j .

    The generator *minimises* each. The minimax loss is the generator's part of V(G, D); its
    gradient vanishes where the discriminator confidently rejects fakes (l -> -inf), which is why
    the non-saturating loss (same fixed point, strong gradients there) is used in practice. The hinge
    generator loss is the one paired with the hinge discriminator loss (the mean logit, as in WGAN).

    Parameters
    ----------
    logits_fake : (n,) or (n, 1) array_like
        Discriminator logits on generated samples; +-inf allowed, NaN rejected; for ``'hinge'`` not
        both +inf and -inf (their mean is undefined).
    kind : {'minimax', 'non_saturating', 'hinge'}
        Required: which loss (no default, the choice changes the value).

    Returns
    -------
    () ndarray
        The generator loss (<= 0 for minimax, >= 0 for non-saturating, any sign for hinge).

    References
    ----------
    Advanced Course on DGM, Lecture 8, slides 'Generator Training Objective' and 'GAN training
    algorithm'; Isachenko, DGM Lecture 7, recap slide 'Main problems of standard GAN' (vanishing
    gradients, solution: non-saturating GAN); Goodfellow et al., NeurIPS 2014, Section 3;
    hinge: Lim and Ye, Geometric GAN, arXiv:1705.02894, 2017; Miyato et al., Spectral Normalization
    for Generative Adversarial Networks, ICLR 2018, eq. (16) and (17).
    """
    kind = _kind(kind, GENERATOR_LOSS_KINDS)
    l = _per_sample("logits_fake", logits_fake)
    C.check_not_nan("logits_fake", l)
    if kind == "minimax":
        return -np.mean(_softplus(l))
    if kind == "non_saturating":
        return np.mean(_softplus(-l))
    if np.any(np.isposinf(l)) and np.any(np.isneginf(l)):
        raise ValueError("logits_fake: expected logits with a defined mean for kind='hinge', got both +inf and -inf")
    return -np.mean(l)


# --------------------------------------------------------------------------- Wasserstein GAN


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
    Isachenko, DGM Lecture 7, slides 'WGAN objective' and recap 'Theorem (Kantorovich-Rubinstein
    duality)'; Arjovsky, Chintala, Bottou, Wasserstein GAN, ICML 2017, eq. (3).
    """
    f_real = _per_sample("f_real", f_real)
    f_fake = _per_sample("f_fake", f_fake)
    C.check_finite("f_real", f_real)
    C.check_finite("f_fake", f_fake)
    return np.mean(f_real) - np.mean(f_fake)


def clip_weights(parameters: Iterable[np.ndarray], c: float) -> list[np.ndarray]:
    r"""WGAN weight clipping: every parameter entry clipped to [-c, c] (returns copies).

    .. math::

        w \leftarrow \operatorname{clip}(w, -c, c), \qquad \phi \in \Phi = [-c, c]^d.

    The reference returns new arrays and leaves its inputs unchanged; ``accelerated.gan.clip_weights``
    clips the tensors *in place* (as a training loop wants) and returns them. NaN entries stay NaN.

    Parameters
    ----------
    parameters : iterable of array_like, or one array
        The critic's parameter arrays (any shapes).
    c : float
        Clipping bound, finite and > 0.

    Returns
    -------
    list of ndarray
        Clipped float64 copies, in the input order.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'WGAN objective' (parameters in a compact set [-c, c]^d make f
    K-Lipschitz); Arjovsky, Chintala, Bottou, Wasserstein GAN, ICML 2017, Algorithm 1.
    """
    c = C.check_positive_scalar("c", c)
    if isinstance(parameters, np.ndarray):
        parameters = [parameters]
    if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Iterable):
        raise TypeError(f"parameters: expected an iterable of arrays, got {C.describe(parameters)}")
    weights = [C.as_float64(f"parameters[{i}]", w) for i, w in enumerate(parameters)]
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
    """
    x_real = _batch("x_real", x_real)
    x_fake = C.as_float64("x_fake", x_fake)
    C.check_shape("x_fake", x_fake, x_real.shape)
    C.check_finite("x_real", x_real)
    C.check_finite("x_fake", x_fake)
    u = C.as_float64("noise", noise)
    C.check_shape("noise", u, x_real.shape[:1])
    C.check_in_interval("noise", u, 0.0, 1.0)
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

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017, eq. (3);
    Isachenko, DGM Lecture 7, slide 'WGAN objective'.
    """
    lam = C.check_positive_scalar("weight", weight)
    g = _batch("gradients", gradients)
    C.check_finite("gradients", g)
    norm = np.linalg.norm(g.reshape(g.shape[0], -1), axis=1)
    return lam * np.mean((norm - 1.0) ** 2)


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

    References
    ----------
    Gulrajani et al., Improved Training of Wasserstein GANs, NeurIPS 2017 (the critic f);
    Isachenko, DGM Lecture 7, slide 'WGAN objective'.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, a: np.ndarray) -> None:
        W = C.as_float64("W", W)
        b = C.as_float64("b", b)
        a = C.as_float64("a", a)
        if W.ndim != 2:
            raise ValueError(f"W: expected a matrix of shape (D, H), got shape {W.shape}")
        C.check_shape("b", b, W.shape[1:])
        C.check_shape("a", a, W.shape[1:])
        for name, p in (("W", W), ("b", b), ("a", a)):
            C.check_finite(name, p)
        self.W, self.b, self.a = W, b, a

    def _hidden(self, x: object) -> tuple[np.ndarray, np.ndarray]:
        x = _batch("x", x)
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.W.shape[0]:
            raise ValueError(
                f"x: expected samples with {self.W.shape[0]} features in all (W has shape {self.W.shape}), "
                f"got shape {x.shape}"
            )
        return x, np.tanh(flat @ self.W + self.b)

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
        An analytic critic: ``critic(x)`` gives f on a batch ``(n, ...)`` and ``critic.grad(x)`` the
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
    """
    _check_analytic("critic", critic)
    C.check_noise_or_rng(noise, rng)
    x_real = _batch("x_real", x_real)
    u = rng.random(x_real.shape[0]) if noise is None else noise
    x_hat = interpolate(x_real, x_fake, u)
    g = _input_gradient("critic", critic, x_hat)
    return gradient_penalty_from_gradients(g, weight=weight)


def _check_analytic(name: str, critic: object) -> None:
    """The reference has no autograd: a critic must bring its input gradient as ``critic.grad(x)``."""
    if not callable(critic) or not callable(getattr(critic, "grad", None)):
        raise TypeError(
            f"{name}: expected an analytic critic with __call__(x) and grad(x) (the reference side has "
            f"no autograd; use reference.gan.TanhCritic or the accelerated side), got {C.describe(critic)}"
        )


def _input_gradient(name: str, critic: object, x: np.ndarray) -> np.ndarray:
    """``critic.grad(x)``, the gradient of sum_i f(x_i) in x, checked to have the shape of x."""
    g = C.as_float64(f"{name}.grad(x)", critic.grad(x))
    if g.shape != x.shape:
        raise ValueError(f"{name}: expected grad(x) of the shape of x, {x.shape}, got shape {g.shape}")
    return g


# --------------------------------------------------------------------------- R1 and R2 penalties


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

    References
    ----------
    Mescheder, Geiger, Nowozin, Which Training Methods for GANs do actually Converge?, ICML 2018,
    eq. (9) and (10).
    """
    gamma = C.check_positive_scalar("gamma", gamma)
    g = _batch("gradients", gradients)
    C.check_finite("gradients", g)
    squared_norm = np.sum(g.reshape(g.shape[0], -1) ** 2, axis=1)
    return 0.5 * gamma * np.mean(squared_norm)


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
        An analytic discriminator: ``discriminator.grad(x)`` gives the gradient of
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
    Mescheder, Geiger, Nowozin, Which Training Methods for GANs do actually Converge?, ICML 2018,
    eq. (9).
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
    Mescheder, Geiger, Nowozin, Which Training Methods for GANs do actually Converge?, ICML 2018,
    eq. (10).
    """
    return _zero_centred_penalty(discriminator, "x_fake", x_fake, gamma)


def _zero_centred_penalty(discriminator: object, name: str, x: object, gamma: float) -> np.ndarray:
    _check_analytic("discriminator", discriminator)
    gamma = C.check_positive_scalar("gamma", gamma)
    x = _batch(name, x)
    C.check_finite(name, x)
    return r1_penalty_from_gradients(_input_gradient("discriminator", discriminator, x), gamma=gamma)


# --------------------------------------------------------------------------- truncation trick


def truncated_normal(
    psi: float,
    *,
    shape: tuple[int, ...] | None = None,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""BigGAN truncation trick: standard normal latents truncated to [-psi, psi], by the inverse CDF.

    .. math::

        p(z \mid \psi) = \frac{\mathcal N(z \mid 0, 1)\,[\,|z| \le \psi\,]}{\Phi(\psi) - \Phi(-\psi)},
        \qquad
        z = \Phi^{-1}\bigl(\Phi(-\psi) + u\,(\Phi(\psi) - \Phi(-\psi))\bigr), \quad u \sim U[0, 1],

    elementwise. The slide writes the normaliser as a one-sided integral up to psi; BigGAN
    resamples every element that falls outside [-psi, psi], i.e. truncates on both sides, and that
    is what is implemented. The inverse CDF gives exactly the law of that rejection resampling (the
    law of z given |z| <= psi) from one uniform per element, deterministically. For u > 1/2 the
    mirror image :math:`z = -\Phi^{-1}(\Phi(-\psi) + (1 - u)(\Phi(\psi) - \Phi(-\psi)))` is used, so
    both tails keep full relative precision; the mass :math:`\Phi(\psi) - \Phi(-\psi)` is formed as
    :math:`\operatorname{erf}(\psi/\sqrt2)`. The result is clamped to [-psi, psi], which changes only
    values pushed past the bound by rounding (by at most a few ulp, or from -inf to -psi when
    :math:`\Phi(-\psi)` underflows, psi > 38, and u = 0).

    Parameters
    ----------
    psi : float
        Truncation threshold, finite and > 0.
    shape : tuple of int, optional
        Output shape; required with ``rng``; with ``noise`` it must equal ``noise.shape`` if given.
    noise : (...) array_like, optional
        Uniform variates u in [0, 1], one per output element. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws u = ``rng.random(shape)`` (float64).

    Returns
    -------
    (...) ndarray
        Truncated standard normal samples in [-psi, psi].

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Truncation trick' (BigGAN: truncated normal sampling);
    Brock, Donahue, Simonyan, Large Scale GAN Training for High Fidelity Natural Image Synthesis,
    ICLR 2019, Section 3.1.
    """
    psi = C.check_positive_scalar("psi", psi)
    C.check_noise_or_rng(noise, rng)
    if shape is not None:
        shape = _shape_tuple(shape)
    if noise is None:
        if shape is None:
            raise ValueError("shape: required with rng= (the number of latents to draw), got None")
        u = rng.random(shape)
    else:
        u = C.as_float64("noise", noise)
        if shape is not None:
            C.check_shape("noise", u, shape)
        C.check_in_interval("noise", u, 0.0, 1.0)
    Phi_minus_psi = special.ndtr(-psi)
    mass = special.erf(psi / np.sqrt(2.0))  # Phi(psi) - Phi(-psi)
    lower = special.ndtri(Phi_minus_psi + u * mass)
    upper = -special.ndtri(Phi_minus_psi + (1.0 - u) * mass)
    z = np.where(u <= 0.5, lower, upper)
    return np.clip(z, -psi, psi)


def _shape_tuple(shape: object) -> tuple[int, ...]:
    """An output shape: an int or a sequence of non-negative ints."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in shape
    ):
        raise TypeError(f"shape: expected a tuple of non-negative ints, got {C.describe(shape)}")
    return tuple(int(s) for s in shape)


def truncate_latent(z: np.ndarray, z_mean: np.ndarray, psi: float) -> np.ndarray:
    r"""StyleGAN truncation: pull latents towards their mean by the factor psi.

    .. math::

        z' = \hat z + \psi\,(z - \hat z), \qquad \hat z = \mathbb{E}_z\, z.

    psi = 1 leaves z unchanged, psi = 0 maps every latent to the mean; psi = 0.7 is StyleGAN's choice.

    Parameters
    ----------
    z : (..., d) array_like
        Latents (StyleGAN applies this to its intermediate w), finite.
    z_mean : (..., d) array_like
        Their mean z-hat; batch axes broadcast with ``z``'s (typically shape (d,)).
    psi : float
        The truncation factor, a finite real number (usually in [0, 1]).

    Returns
    -------
    (..., d) ndarray
        The truncated latents, batch shape broadcast.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Truncation trick' (StyleGAN);
    Karras, Laine, Aila, A Style-Based Generator Architecture for Generative Adversarial Networks,
    CVPR 2019, Section 4 (truncation trick in W).
    """
    psi = C.check_real_scalar("psi", psi)
    z = C.as_float64("z", z)
    z_hat = C.as_float64("z_mean", z_mean)
    C.check_ndim("z", z, 1)
    C.check_ndim("z_mean", z_hat, 1)
    C.check_same_last_dim(("z", "z_mean"), (z, z_hat))
    C.broadcast_batch(("z", "z_mean"), (z.shape[:-1], z_hat.shape[:-1]))
    C.check_finite("z", z)
    C.check_finite("z_mean", z_hat)
    return z_hat + psi * (z - z_hat)


# --------------------------------------------------------------------------- classifier two-sample test


class C2STResult(NamedTuple):
    """Result of :func:`classifier_two_sample_test`."""

    accuracy: float
    """Held-out accuracy of the logistic regression (threshold logit > 0)."""
    p_value: float
    """P(Binom(n_test, p0) >= correct), p0 the larger class fraction of the test set."""
    n_test: int
    """Number of held-out points."""
    weights: np.ndarray
    """(d,) fitted weights w of the logit w^T x + b."""
    bias: float
    """Fitted bias b."""


def _split_sizes(n_x: int, n_y: int, test_fraction: float) -> tuple[int, int]:
    """Held-out counts round(test_fraction * n) per set (Python round: half to even); both sides share it."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}")
    m_x, m_y = round(test_fraction * n_x), round(test_fraction * n_y)
    for name, n, m in (("x", n_x, m_x), ("y", n_y, m_y)):
        if not 0 < m < n:
            raise ValueError(
                f"{name} / test_fraction: expected at least one training and one held-out point from {name}, "
                f"got {n} samples and test_fraction {test_fraction} ({m} held out)"
            )
    return m_x, m_y


def _logistic_newton(
    X: np.ndarray, y: np.ndarray, weight_decay: float, max_iter: int, tol: float
) -> tuple[np.ndarray, float]:
    """Minimise mean log-loss + weight_decay/2 ||w||^2 over (w, b) by damped Newton (IRLS), from zero.

    Each iteration solves H step = -gradient. While the squared Newton decrement -gradient . step
    exceeds ``_FULL_STEP_DECREMENT`` (1 + |L|), the step is halved until the Armijo condition holds
    (at most 40 halvings); below that the full step is taken (the quadratic-convergence region, where
    comparing two objective values equal to 1e-16 would be decided by rounding). The iteration on
    which max |gradient| < tol is detected still takes its step and then stops: that last step squares
    the remaining error, so the result does not depend on which side of ``tol`` rounding puts the
    last gradient (the accelerated side runs the same iteration).
    """
    m, d = X.shape
    A = np.concatenate([X, np.ones((m, 1))], axis=1)  # [x, 1]: theta = (w, b)
    penalty = np.full(d + 1, weight_decay)
    penalty[d] = 0.0  # the bias is not penalised

    def objective(theta: np.ndarray) -> float:
        s = A @ theta
        return float(np.mean(_softplus(s) - y * s) + 0.5 * np.sum(penalty * theta**2))

    theta = np.zeros(d + 1)
    L = objective(theta)
    for _ in range(max_iter):
        s = A @ theta
        sigma = special.expit(s)
        gradient = A.T @ (sigma - y) / m + penalty * theta
        converged = np.max(np.abs(gradient)) < tol
        H = (A.T * (sigma * (1.0 - sigma))) @ A / m + np.diag(penalty)
        step = np.linalg.solve(H, -gradient)
        decrease = float(gradient @ step)  # minus the squared Newton decrement
        t = 1.0
        if -decrease > _FULL_STEP_DECREMENT * (1.0 + abs(L)):
            while objective(theta + t * step) > L + 1e-4 * t * decrease and t > 2.0**-40:
                t *= 0.5
        theta = theta + t * step
        L = objective(theta)
        if converged:
            break
    return theta[:d], float(theta[d])


def classifier_two_sample_test(
    x: np.ndarray,
    y: np.ndarray,
    *,
    test_fraction: float = 0.5,
    weight_decay: float = 1e-2,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> C2STResult:
    r"""Classifier two-sample test (C2ST) with logistic regression: can a classifier tell x from y?

    A logistic regression estimates the log-odds :math:`\log P(x \mid \text{label } 1) / P(x \mid
    \text{label } 0)` (the slide writes the ratio upside down inside sigma; the fitted logit is the
    log-odds of label 1). Under H0: P = Q no classifier beats chance on held-out data, so the held-out
    accuracy is the test statistic:

    .. math::

        \hat t = \frac1{n_{te}} \sum_{i \in te} \bigl[\, [w^\top x_i + b > 0] = \ell_i \,\bigr],
        \qquad
        p = \Pr\bigl(\operatorname{Binom}(n_{te}, p_0) \ge n_{te} \hat t\bigr),

    with :math:`(w, b) = \arg\min \frac1m \sum_{i \in tr} [\operatorname{softplus}(s_i) - \ell_i s_i]
    + \frac{\lambda}2 \lVert w \rVert^2`, :math:`s_i = w^\top x_i + b` (bias unpenalised), fitted by
    damped Newton / IRLS from zero until max |gradient| < ``tol`` (that iteration still takes its step)
    or ``max_iter`` iterations.
    Features are used as given (no standardisation), so ``weight_decay`` acts on their scale.

    Split: x is permuted by ``argsort(noise[:n_x])`` (stable) and y by ``argsort(noise[n_x:])``; the
    first ``round(test_fraction * n_x)`` and ``round(test_fraction * n_y)`` (Python rounding, half to
    even) of each are held out, the rest train. The p-value is the exact binomial tail with
    :math:`p_0` the larger class fraction of the test set (1/2 when balanced): under H0 the fitted
    classifier is independent of the held-out points, whose labels are then uninformative, so no
    classifier can have a per-point success probability above :math:`p_0`; for unbalanced test
    sets this makes the test conservative.

    Parameters
    ----------
    x : (n_x, d) array_like
        Samples from P (label 1), finite.
    y : (n_y, d) array_like
        Samples from Q (label 0), finite, same d.
    test_fraction : float
        Fraction of each set held out, in (0, 1); each set must keep at least one point on each side.
    weight_decay : float
        L2 penalty lambda > 0 on w (makes the problem strictly convex, also for separable data).
    noise : (n_x + n_y,) array_like, optional
        Uniforms in [0, 1] that define the split. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws ``noise = rng.random(n_x + n_y)``.
    max_iter : int
        Newton iteration limit (> 0).
    tol : float
        Stop when the objective's gradient has max-abs below it (> 0).

    Returns
    -------
    C2STResult
        ``(accuracy, p_value, n_test, weights (d,), bias)``.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slides 'Two-Sample Tests' and the log-odds slide after them;
    Lopez-Paz, Oquab, Revisiting Classifier Two-Sample Tests, ICLR 2017.
    """
    x = C.as_float64("x", x)
    y = C.as_float64("y", y)
    for name, s in (("x", x), ("y", y)):
        if s.ndim != 2:
            raise ValueError(f"{name}: expected a matrix of shape (n, d), got shape {s.shape}")
        C.check_finite(name, s)
    C.check_same_last_dim(("x", "y"), (x, y))
    test_fraction = C.check_positive_scalar("test_fraction", test_fraction)
    weight_decay = C.check_positive_scalar("weight_decay", weight_decay)
    tol = C.check_positive_scalar("tol", tol)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter: expected a positive int, got {C.describe(max_iter)}")
    n_x, n_y = x.shape[0], y.shape[0]
    m_x, m_y = _split_sizes(n_x, n_y, test_fraction)
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        noise = rng.random(n_x + n_y)
    u = C.as_float64("noise", noise)
    C.check_shape("noise", u, (n_x + n_y,))
    C.check_in_interval("noise", u, 0.0, 1.0)

    x = x[np.argsort(u[:n_x], kind="stable")]
    y = y[np.argsort(u[n_x:], kind="stable")]
    X_test = np.concatenate([x[:m_x], y[:m_y]])
    label_test = np.concatenate([np.ones(m_x), np.zeros(m_y)])
    X_train = np.concatenate([x[m_x:], y[m_y:]])
    label_train = np.concatenate([np.ones(n_x - m_x), np.zeros(n_y - m_y)])

    w, b = _logistic_newton(X_train, label_train, weight_decay, int(max_iter), tol)
    predicted = (X_test @ w + b > 0).astype(np.float64)
    n_test = m_x + m_y
    correct = int(np.sum(predicted == label_test))
    p0 = max(m_x, m_y) / n_test
    p_value = float(stats.binom.sf(correct - 1, n_test, p0))
    return C2STResult(correct / n_test, p_value, n_test, w, b)
