r"""GAN value function, optimal discriminator and the discriminator and generator losses, in PyTorch.

Same formulas, names and parameters as :mod:`reference.gan.objectives` (Advanced Course on DGM,
Lecture 8, 'Discriminator Training Objective', 'Generator Training Objective'; Isachenko, DGM
Lecture 7, recap 'Main problems of standard GAN'; beyond the slides the hinge loss of Lim and Ye 2017
/ Miyato et al. 2018). The losses run under ``torch.autocast`` and return ``accumulation_dtype`` of
their inputs' promoted dtype (float32 for half inputs).
"""

from __future__ import annotations

import torch

from reference._args.gan import DISCRIMINATOR_LOSS_KINDS, GENERATOR_LOSS_KINDS  # noqa: F401  (re-exported)

from .. import _checks as C
from .._numerics import softplus
from ._common import (
    _check_densities,
    _check_discriminator_logits,
    _check_generator_logits,
    _check_log_densities,
    _check_probabilities,
)

__all__ = [
    "discriminator_loss",
    "gan_value",
    "generator_loss",
    "optimal_discriminator",
    "optimal_discriminator_logit",
]


def gan_value(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    r"""GAN value function V(G, D) from discriminator outputs (see :func:`reference.gan.gan_value`).

    .. math::

        V(G, D) \approx \frac1{n_r} \sum_i \log D(x_i) + \frac1{n_f} \sum_j \log\bigl(1 - D(\tilde x_j)\bigr).

    Parameters
    ----------
    d_real : (n_r,) or (n_r, 1) Tensor
        D(x) on real samples, in [0, 1].
    d_fake : (n_f,) or (n_f, 1) Tensor
        D(G(z)) on generated samples, in [0, 1]; same device, any floating dtype (promoted).

    Returns
    -------
    () Tensor
        V(G, D) <= 0; ``-inf`` where D = 0 on a real or D = 1 on a generated sample. Float32 for
        half inputs, else the promoted dtype.

    Notes
    -----
    ``D = 0`` on a real sample or ``D = 1`` on a generated one gives ``-inf``, the correct value, as on
    the reference; never NaN (NaN outputs are refused, and no term is +inf).

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective';
    Goodfellow et al., Generative Adversarial Networks, NeurIPS 2014, eq. (1).

    Examples
    --------
    D = 1/2 everywhere gives V = -log 4 (L7 recap 'GAN optimality theorem'):

    >>> round(float(gan_value(torch.full((3,), 0.5), torch.full((2,), 0.5))), 6)
    -1.386294
    """
    d_real, d_fake = _check_probabilities(d_real, d_fake)
    acc = C.accumulation_dtype(d_real.dtype)
    return torch.log(d_real).mean(dtype=acc) + torch.log1p(-d_fake).mean(dtype=acc)


def optimal_discriminator(p_data: torch.Tensor, p_model: torch.Tensor) -> torch.Tensor:
    r"""Optimal discriminator D* = p_data / (p_data + p_G); 1/2 where both densities vanish.

    .. math::

        D^*_G(x) = \frac{p_{\text{data}}(x)}{p_{\text{data}}(x) + p_G(x)}.

    See :func:`reference.gan.optimal_discriminator` for why 1/2 off both supports.

    Parameters
    ----------
    p_data, p_model : (...) Tensor
        Density values, finite and non-negative, same dtype and device; broadcast. Their sum must
        not overflow the dtype.

    Returns
    -------
    (...) Tensor
        D*(x) in [0, 1].

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective';
    Goodfellow et al., NeurIPS 2014, Proposition 1.

    Examples
    --------
    p_data = 3, p_G = 1 gives 3 / (3 + 1); both zero gives 1/2 (closed form and convention):

    >>> optimal_discriminator(torch.tensor([3.0, 0.0]), torch.tensor([1.0, 0.0])).tolist()
    [0.75, 0.5]
    """
    p_data, p_model = _check_densities(p_data, p_model)
    total = p_data + p_model
    positive = total > 0
    D_star = p_data / torch.where(positive, total, torch.ones_like(total))
    return torch.where(positive, D_star, torch.full_like(D_star, 0.5))


def optimal_discriminator_logit(log_p_data: torch.Tensor, log_p_model: torch.Tensor) -> torch.Tensor:
    r"""Logit of the optimal discriminator, log p_data - log p_G; 0 where both densities vanish.

    .. math::

        \operatorname{logit} D^*_G(x) = \log p_{\text{data}}(x) - \log p_G(x).

    Parameters
    ----------
    log_p_data, log_p_model : (...) Tensor
        Log-densities; ``-inf`` allowed, ``+inf`` and NaN rejected; same dtype and device; broadcast.

    Returns
    -------
    (...) Tensor
        The log density ratio, possibly +-inf.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective';
    Goodfellow et al., NeurIPS 2014, Proposition 1.

    Examples
    --------
    p_data = 3, p_G = 1: the logit is log 3; p_data = 0: -inf (closed form):

    >>> logit = optimal_discriminator_logit(torch.tensor([1.0986123, -float("inf")]), torch.zeros(2))
    >>> [round(v, 6) for v in logit.tolist()]
    [1.098612, -inf]
    """
    log_p_data, log_p_model = _check_log_densities(log_p_data, log_p_model)
    both_zero = torch.isneginf(log_p_data) & torch.isneginf(log_p_model)
    logit = log_p_data - log_p_model
    return torch.where(both_zero, torch.zeros_like(logit), logit)


def discriminator_loss(
    logits_real: torch.Tensor, logits_fake: torch.Tensor, *, kind: str = "cross_entropy"
) -> torch.Tensor:
    r"""Discriminator loss from logits: the cross-entropy -V(G, D) (default) or the hinge loss.

    .. math::

        \text{cross\_entropy: } \frac1{n_r}\sum_i \operatorname{softplus}(-l_i)
                      + \frac1{n_f}\sum_j \operatorname{softplus}(\tilde l_j),
        \qquad
        \text{hinge: } \frac1{n_r}\sum_i \max(0, 1 - l_i) + \frac1{n_f}\sum_j \max(0, 1 + \tilde l_j).

    The cross-entropy equals ``binary_cross_entropy_with_logits`` with labels 1 on real and 0 on
    generated samples, averaged within each set and summed.

    Parameters
    ----------
    logits_real : (n_r,) or (n_r, 1) Tensor
        Logits on real samples, finite (NaN and +-inf are refused).
    logits_fake : (n_f,) or (n_f, 1) Tensor
        Logits on generated samples; same device, any floating dtype (promoted).
    kind : {'cross_entropy', 'hinge'}
        Which loss; the default is the slide's cross-entropy.

    Returns
    -------
    () Tensor
        The loss, >= 0; float32 for half inputs, else the promoted dtype.

    Notes
    -----
    softplus is ``accelerated._numerics.softplus``: ``F.softplus`` with a dtype-aware threshold (37 for
    float64, where the default 20 drops a 2e-9 that a float64 comparison sees), accurate to an ulp for
    every input. Non-finite logits are refused with a ``ValueError`` naming them, and a loss that
    overflows from finite logits is refused too (:func:`accelerated._checks.check_result` on the 0-d
    loss), as on the reference: device assertions, no host read, skipped where
    :func:`accelerated._checks.value_checks_active` is False (inside ``torch.compile``).

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Discriminator Training Objective';
    Goodfellow et al., NeurIPS 2014, eq. (1); hinge: Lim and Ye, Geometric GAN, arXiv:1705.02894,
    2017; Miyato et al., Spectral Normalization for GANs, ICLR 2018, eq. (16) and (17).

    Examples
    --------
    Logits 0 (D = 1/2) on both sets: 2 log 2 (closed form); the hinge loss of confident logits is 0:

    >>> round(float(discriminator_loss(torch.zeros(2), torch.zeros(3))), 6)
    1.386294
    >>> float(discriminator_loss(torch.tensor([2.0]), torch.tensor([-3.0]), kind="hinge"))
    0.0
    """
    l_real, l_fake, kind = _check_discriminator_logits(logits_real, logits_fake, kind)
    acc = C.accumulation_dtype(l_real.dtype)
    if kind == "hinge":
        loss = torch.relu(1.0 - l_real).mean(dtype=acc) + torch.relu(1.0 + l_fake).mean(dtype=acc)
    else:
        loss = softplus(-l_real).mean(dtype=acc) + softplus(l_fake).mean(dtype=acc)
    return C.check_result(loss, (("logits_real", l_real), ("logits_fake", l_fake)))


def generator_loss(logits_fake: torch.Tensor, *, kind: str) -> torch.Tensor:
    r"""Generator loss from logits: ``kind='minimax'`` (saturating), ``'non_saturating'`` or ``'hinge'``.

    .. math::

        \text{minimax: } -\frac1n \sum_j \operatorname{softplus}(l_j) = \frac1n\sum_j \log(1 - D_j),
        \qquad
        \text{non\_saturating: } \frac1n \sum_j \operatorname{softplus}(-l_j) = -\frac1n\sum_j \log D_j,
        \qquad
        \text{hinge: } -\frac1n \sum_j l_j.

    Parameters
    ----------
    logits_fake : (n,) or (n, 1) Tensor
        Logits on generated samples, finite (NaN and +-inf are refused).
    kind : {'minimax', 'non_saturating', 'hinge'}
        Required; no default.

    Returns
    -------
    () Tensor
        The loss the generator minimises; float32 for half inputs, else the input dtype.

    Notes
    -----
    The hinge mean is accumulated in float64 (logits of both signs cancel) and cast to the result dtype.
    Non-finite logits are refused with a ``ValueError`` naming ``logits_fake``, and a loss that overflows
    from finite logits is refused too (:func:`accelerated._checks.check_result` on the 0-d loss), as on
    the reference: device assertions, no host read.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Generator Training Objective';
    Isachenko, DGM Lecture 7, recap slide 'Main problems of standard GAN';
    Goodfellow et al., NeurIPS 2014, Section 3; hinge: Lim and Ye, Geometric GAN, 2017; Miyato et al.,
    Spectral Normalization for GANs, ICLR 2018, eq. (16) and (17).

    Examples
    --------
    At l = 0 (D = 1/2) the non-saturating loss is -log(1/2) = log 2 (closed form):

    >>> round(float(generator_loss(torch.zeros(4), kind="non_saturating")), 6)
    0.693147
    """
    l, kind = _check_generator_logits(logits_fake, kind)
    acc = C.accumulation_dtype(l.dtype)
    if kind == "minimax":
        loss = -softplus(l).mean(dtype=acc)
    elif kind == "non_saturating":
        loss = softplus(-l).mean(dtype=acc)
    else:
        loss = (-l.mean(dtype=torch.float64)).to(acc)
    return C.check_result(loss, (("logits_fake", l),))
