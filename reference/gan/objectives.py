r"""GAN value function, optimal discriminator and the discriminator and generator losses in logit form.

Slides: Advanced Course on DGM, Lecture 8, 'Discriminator Training Objective' (V(G, D) and D*),
'Generator Training Objective', 'GAN training algorithm' and the log-odds slide after 'Two-Sample
Tests'; Isachenko, DGM Lecture 7, recap slides 'GAN optimality theorem' and 'Main problems of standard
GAN' (the non-saturating generator loss). Beyond the slides: the hinge loss (Lim and Ye 2017; Miyato
et al. 2018, eq. (17)).
"""

from __future__ import annotations

import numpy as np

from reference._args.gan import DISCRIMINATOR_LOSS_KINDS, GENERATOR_LOSS_KINDS  # noqa: F401  (re-exported)

from .. import _checks as C
from ._common import (
    _check_densities,
    _check_discriminator_logits,
    _check_generator_logits,
    _check_log_densities,
    _check_probabilities,
    _softplus,
)

__all__ = [
    "discriminator_loss",
    "gan_value",
    "generator_loss",
    "optimal_discriminator",
    "optimal_discriminator_logit",
]


def gan_value(d_real: np.ndarray, d_fake: np.ndarray) -> np.ndarray:
    r"""GAN value function V(G, D) estimated from discriminator outputs on real and generated samples.

    .. math::

        V(G, D) = \mathbb{E}_{x \sim p_{\text{data}}} \log D(x)
                + \mathbb{E}_{x \sim p_G} \log\bigl(1 - D(x)\bigr)
        \approx \frac1{n_r} \sum_i \log D(x_i) + \frac1{n_f} \sum_j \log\bigl(1 - D(\tilde x_j)\bigr).

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

    Notes
    -----
    ``log(1 - D)`` is ``log1p(-D)``, exact for small ``D``. ``D = 0`` on a real sample or ``D = 1`` on
    a generated one gives ``-inf``, the correct value (the value function of a discriminator that is
    certainly wrong somewhere); never NaN (NaN outputs are refused, and no term is +inf).

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective';
    Isachenko, DGM Lecture 7, recap slide 'GAN optimality theorem';
    Goodfellow et al., Generative Adversarial Networks, NeurIPS 2014, eq. (1).

    Examples
    --------
    D = 1/2 everywhere gives V = -log 4 (L7 recap 'GAN optimality theorem'):

    >>> round(float(gan_value(np.full(3, 0.5), np.full(2, 0.5))), 6)
    -1.386294
    """
    d_real, d_fake = _check_probabilities(d_real, d_fake)
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

    Examples
    --------
    p_data = 3, p_G = 1 gives 3 / (3 + 1); both zero gives 1/2 (closed form, convention above):

    >>> optimal_discriminator(np.array([3.0, 0.0]), np.array([1.0, 0.0])).tolist()
    [0.75, 0.5]
    """
    p_data, p_model = _check_densities(p_data, p_model)
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

    Examples
    --------
    p_data = 3, p_G = 1: the logit is log 3; p_data = 0: -inf (closed form):

    >>> optimal_discriminator_logit(np.array([np.log(3.0), -np.inf]), np.zeros(2)).round(6).tolist()
    [1.098612, -inf]
    """
    log_p_data, log_p_model = _check_log_densities(log_p_data, log_p_model)
    both_zero = np.isneginf(log_p_data) & np.isneginf(log_p_model)
    with np.errstate(invalid="ignore"):
        logit = log_p_data - log_p_model
    return np.where(both_zero, 0.0, logit)


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
        Discriminator logits on real samples (label 1), finite (NaN and +-inf are refused).
    logits_fake : (n_f,) or (n_f, 1) array_like
        Discriminator logits on generated samples (label 0); n_f may differ from n_r.
    kind : {'cross_entropy', 'hinge'}
        Which loss; the default is the slide's cross-entropy.

    Returns
    -------
    () ndarray
        The loss the discriminator minimises, >= 0.

    Notes
    -----
    softplus is ``logaddexp(0, t)``, never ``log(sigmoid(t))``: logits of +-1000 give exact finite
    losses. Non-finite logits are refused with a ``ValueError`` naming them (an infinite logit makes
    the loss infinite, or its gradient meaningless), and a loss that overflows float64 from finite
    logits (near 1e308) is refused too (:func:`reference._checks.check_result`): a training loss is
    never returned as inf or NaN.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective' ("binary
    classification with the cross entropy objective"); Goodfellow et al., NeurIPS 2014, eq. (1);
    hinge: Lim and Ye, Geometric GAN, arXiv:1705.02894, 2017; Miyato et al., Spectral Normalization
    for Generative Adversarial Networks, ICLR 2018, eq. (16) and (17).

    Examples
    --------
    Logits 0 (D = 1/2) on both sets: 2 log 2 (closed form); the hinge loss of confident logits is 0:

    >>> round(float(discriminator_loss(np.zeros(2), np.zeros(3))), 6)
    1.386294
    >>> float(discriminator_loss(np.array([2.0]), np.array([-3.0]), kind="hinge"))
    0.0
    """
    l_real, l_fake, kind = _check_discriminator_logits(logits_real, logits_fake, kind)
    with np.errstate(over="ignore"):
        if kind == "hinge":
            loss = np.mean(np.maximum(0.0, 1.0 - l_real)) + np.mean(np.maximum(0.0, 1.0 + l_fake))
        else:
            loss = np.mean(_softplus(-l_real)) + np.mean(_softplus(l_fake))
    return C.check_result(loss, [("logits_real", l_real), ("logits_fake", l_fake)])


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
        Discriminator logits on generated samples, finite (NaN and +-inf are refused).
    kind : {'minimax', 'non_saturating', 'hinge'}
        Required: which loss (no default, the choice changes the value).

    Returns
    -------
    () ndarray
        The generator loss (<= 0 for minimax, >= 0 for non-saturating, any sign for hinge).

    Notes
    -----
    Non-finite logits are refused with a ``ValueError`` naming ``logits_fake``, and a loss that
    overflows float64 from finite logits (near 1e308) is refused too
    (:func:`reference._checks.check_result`): a training loss is never returned as inf or NaN.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slides 'Generator Training Objective' and 'GAN training
    algorithm'; Isachenko, DGM Lecture 7, recap slide 'Main problems of standard GAN' (vanishing
    gradients, solution: non-saturating GAN); Goodfellow et al., NeurIPS 2014, Section 3;
    hinge: Lim and Ye, Geometric GAN, arXiv:1705.02894, 2017; Miyato et al., Spectral Normalization
    for Generative Adversarial Networks, ICLR 2018, eq. (16) and (17).

    Examples
    --------
    At l = 0 (D = 1/2) the non-saturating loss is -log(1/2) = log 2 (closed form):

    >>> round(float(generator_loss(np.zeros(4), kind="non_saturating")), 6)
    0.693147
    """
    l, kind = _check_generator_logits(logits_fake, kind)
    with np.errstate(over="ignore"):
        if kind == "minimax":
            loss = -np.mean(_softplus(l))
        elif kind == "non_saturating":
            loss = np.mean(_softplus(-l))
        else:
            loss = -np.mean(l)
    return C.check_result(loss, [("logits_fake", l)])
