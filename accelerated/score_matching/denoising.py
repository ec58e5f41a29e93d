"""Denoising score matching, NCSN's geometric levels and sigma^2-weighted loss, Tweedie's formula, in PyTorch.

Same formulas, names and parameters as :mod:`reference.score_matching.denoising` (Isachenko, DGM
Lecture 7 and 13, 'Denoising score matching', 'Noise Conditioned Score Network (NCSN)'; Advanced
Course on DGM, Lecture 8, 'Denoising Score Matching', "Tweedie's Formula"; Beigy, 'Denoising Score
Matching (DSM)'). Conventions in :mod:`accelerated.score_matching`.
"""

from __future__ import annotations

import math
import sys

import torch

import reference._args as A
import reference._args.distributions as AD
import reference._args.score_matching as SA

from .. import _checks as C
from ._common import (
    MODEL_EXAMPLE,
    Model,
    _checked,
    _half_squared_norm_mean,
    _noise_levels,
    _per_sample,
    _samples,
    _scores,
    _sigma_table,
    _standard_normals,
)

__all__ = ["denoising_score_matching", "geometric_sigmas", "ncsn_loss", "tweedie_denoise"]


def _check_dsm(
    model: object, x: object, sigma: object, noise_conditional: object, noise: object, rng: object
) -> tuple[torch.Tensor, float, torch.Tensor]:
    """(x, sigma, eps) of denoising score matching: a callable model, samples, sigma > 0, standard normals."""
    SA.check_model(model, MODEL_EXAMPLE)
    sigma, _ = SA.noise_level(sigma, noise_conditional)
    x = _samples("x", x)
    return x, sigma, _standard_normals("noise", noise, rng, x)


def _check_ncsn(
    model: object, x: object, sigmas: object, noise_conditional: object, levels: object, noise: object, rng: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x, sigma, eps) of the NCSN loss: samples, each sample's level sigma_{l_i} (n,), standard normals.

    The level indices ``levels`` (0-based, on x's device) are drawn with ``rng`` (``torch.randint(0, L,
    (n,))``, before the noise) or checked, and gathered: ``sigma = sigmas[levels]`` in x's dtype. The
    bounds are checked by the gather itself (``index_select``, no host read on an accelerator); in
    ``value_checks("sync")`` mode they are read first, so that a GPU names the argument too.
    """
    SA.check_model(model, MODEL_EXAMPLE)
    A.flag("noise_conditional", noise_conditional)
    x = _samples("x", x)
    sigmas = _sigma_table(sigmas, x)
    L, n = sigmas.shape[0], x.shape[0]
    C.check_noise_or_rng(noise, rng)
    SA.levels_with_noise(levels, noise)
    if noise is None:
        C.check_generator(rng, x.device)
        levels = torch.randint(0, L, (n,), generator=rng, device=x.device)
    l = C.as_int_tensor("levels", levels)
    C.check_shape("levels", l, (n,))
    if l.device != x.device:
        raise ValueError(f"levels: expected the level indices on x's device {x.device}, got {l.device}")
    eps = _standard_normals("noise", noise, rng, x)
    if C.get_value_checks() == "sync" and C.value_checks_active() and bool(((l < 0) | (l >= L)).any()):
        raise ValueError(SA.levels_message(L, int(l.min()), int(l.max())))
    try:  # index_select's bounds check (no host read on the accelerator) refuses negative indices too
        sigma = sigmas.index_select(0, l if l.dtype == torch.int64 else l.long())
    except IndexError:
        raise ValueError(SA.levels_message(L, int(l.min()), int(l.max()))) from None
    return x, sigma, eps


def _check_tweedie(y: object, score: object, sigma: object) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(y, score, sigma): finite observations (..., d), finite scores of their shape, dtype and device, sigma > 0."""
    y, score = C.as_float_tensor("y", y), C.as_float_tensor("score", score)
    C.check_same_device_dtype(("y", "score"), (y, score))
    C.check_ndim("y", y, 1)
    C.check_shape("score", score, y.shape)
    C.check_finite("y", y)
    C.check_finite("score", score)
    return y, score, A.positive("sigma", sigma)


def denoising_score_matching(
    model: Model,
    x: torch.Tensor,
    sigma: float,
    *,
    noise_conditional: bool = False,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Denoising score matching at one noise level, with the 1/2 (Beigy's and Lecture 8's form).

    .. math::

        \frac1n \sum_{i=1}^n \frac12 \Bigl\lVert s_\theta(x_i + \sigma\varepsilon_i)
            + \frac{\varepsilon_i}{\sigma} \Bigr\rVert_2^2 .

    Isachenko's Lecture 7 and 13 slides write it without the 1/2 (twice this); no sigma^2 weight (see
    :func:`ncsn_loss`). Details in :func:`reference.score_matching.denoising_score_matching`.

    Parameters
    ----------
    model : callable
        ``model(x_tilde)``, or ``model(x_tilde, sigma)`` with ``noise_conditional`` (sigma an (n,)
        tensor in x's dtype on x's device).
    x : (n, ...) Tensor
        Clean samples, finite.
    sigma : float
        Noise standard deviation > 0.
    noise_conditional : bool
        Pass sigma to the model (default False). Changes only the call.
    noise : (n, ...) Tensor, optional
        Standard normals, same dtype and device as x. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws ``torch.randn(x.shape)`` on x's device (the generator must be there) in x's dtype.

    Returns
    -------
    () Tensor
        The estimate, differentiable in the model's parameters.

    Notes
    -----
    Slide typos the formula gets right (see :func:`reference.score_matching.denoising_score_matching`):
    Lecture 7's noised objective is an expectation over q(x_sigma) with the gradient in x_sigma (the
    slide writes E_pi and grad_x); Lecture 8's DSM identity is "= ... + const", not "="; in Beigy's
    sigma -> 0 expansion the dropped "Constant" terms depend on theta.

    References
    ----------
    Isachenko, DGM Lecture 7, slides 'Denoising score matching'; Advanced Course on DGM, Lecture 8,
    slide 'Denoising Score Matching'; Beigy, Score-Based Generative Models, slides 'Denoising Score
    Matching (DSM)'; Vincent, Neural Computation 23 (2011).

    Examples
    --------
    A zero model leaves 1/2 ||eps / sigma||^2 = 1/2 (6^2 + 8^2) = 50 for eps = (3, 4), sigma = 0.5 (by hand):

    >>> eps = torch.tensor([[3.0, 4.0]])
    >>> float(denoising_score_matching(lambda x: torch.zeros_like(x), torch.zeros(1, 2), 0.5, noise=eps))
    50.0
    """
    x, sigma, eps = _check_dsm(model, x, sigma, noise_conditional, noise, rng)
    x_tilde = torch.add(x, eps, alpha=sigma)
    s = _scores(model, x_tilde, _noise_levels(sigma, x)) if noise_conditional else _scores(model, x_tilde)
    r = torch.add(s.to(C.accumulation_dtype(s.dtype)), eps, alpha=1.0 / sigma)  # s + eps / sigma, in range
    return _checked(_half_squared_norm_mean(r), (("x", x), ("noise", eps), ("model(x)", s)))


def geometric_sigmas(sigma_1: float, sigma_L: float, L: int) -> torch.Tensor:
    r"""NCSN noise levels :math:`\sigma_l = \sigma_1 (\sigma_L / \sigma_1)^{(l-1)/(L-1)}`, a float64 CPU tensor.

    End points exactly ``sigma_1`` and ``sigma_L`` (in log space where sigma_L / sigma_1 underflows, see
    the reference); move the table to the training device once
    (``sigmas.to(device)``) and pass it to :func:`ncsn_loss` (which casts it to the data's dtype).

    Parameters
    ----------
    sigma_1 : float
        Largest level, finite: by the rule of Song and Ermon (2020, Technique 1), about the largest
        pairwise distance between training points (see :func:`reference.score_matching.geometric_sigmas`).
    sigma_L : float
        Smallest level, 0 < sigma_L < sigma_1.
    L : int
        Number of levels, >= 2.

    Returns
    -------
    (L,) Tensor
        float64, strictly decreasing, on the CPU.

    Notes
    -----
    The arguments are refused as on the reference side (sigma_1 > sigma_L > 0 finite, L >= 2, and a
    ratio that leaves L distinct float64 levels).

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Noise Conditioned Score Network (NCSN)'; Beigy, Score-Based
    Generative Models, slides 'Denoising Score Matching (DSM)' (the NCSN noise levels); Song and Ermon,
    NeurIPS 2019, Section 4.2.

    Examples
    --------
    From 1 to 0.01 in three levels the ratio is sqrt(1 / 0.01) = 10 (closed form):

    >>> geometric_sigmas(1.0, 0.01, 3).tolist()
    [1.0, 0.1, 0.01]
    """
    sigma_1, sigma_L, L = SA.geometric_arguments(sigma_1, sigma_L, L)
    t = torch.arange(L, dtype=torch.float64) / (L - 1)
    ratio = sigma_L / sigma_1
    if ratio >= sys.float_info.min:
        sigmas = sigma_1 * torch.pow(torch.tensor(ratio, dtype=torch.float64), t)
    else:  # the ratio underflows float64: the same levels in log space (as on the reference side)
        sigmas = torch.exp(math.log(sigma_1) + t * (math.log(sigma_L) - math.log(sigma_1)))
    sigmas[0], sigmas[-1] = sigma_1, sigma_L
    SA.check_distinct_levels(not bool((sigmas[1:] >= sigmas[:-1]).any()), sigma_1, sigma_L, L)
    return sigmas


def ncsn_loss(
    model: Model,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    noise_conditional: bool = True,
    weighting: str = "sigma2",
    levels: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""NCSN loss: (sigma^2-weighted) DSM with the 1/2, one random level per sample, mean over samples.

    .. math::

        \frac1n \sum_{i=1}^n \frac12\, \lambda(\sigma_{l_i}) \Bigl\lVert s_\theta(x_i + \sigma_{l_i}\varepsilon_i,
            \sigma_{l_i}) + \frac{\varepsilon_i}{\sigma_{l_i}} \Bigr\rVert_2^2 .

    In expectation over uniform levels: Song and Ermon's :math:`\frac1L \sum_l \sigma_l^2 \ell(\theta;
    \sigma_l)`; the Lecture 13 objective (no 1/2, sum over levels) is 2L times it. See
    :func:`reference.score_matching.ncsn_loss` for the factors. ``weighting="sigma2"`` (default):
    :math:`\lambda = \sigma^2` (Lecture 13's weighted objective); ``"none"``: :math:`\lambda = 1`, the
    per-sample loss of the slide's training algorithm ('NCSN training') with the 1/2.

    Parameters
    ----------
    model : callable
        ``model(x_tilde, sigma)`` with sigma an (n,) tensor of each sample's level (or
        ``model(x_tilde)`` with ``noise_conditional=False``).
    x : (n, ...) Tensor
        Clean samples, finite.
    sigmas : (L,) Tensor
        Levels sigma_1 > ... > sigma_L > 0 on x's device, any floating dtype (cast to x's).
    noise_conditional : bool
        Default True. Changes only the call.
    weighting : {"sigma2", "none"}
        The per-level weight: sigma^2 (default) or 1 (the slide's 'NCSN training' loss).
    levels : (n,) integer Tensor, optional
        0-based level indices in [0, L), on x's device; goes with ``noise``.
    noise : (n, ...) Tensor, optional
        Standard normals; requires ``levels``. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws ``levels = torch.randint(0, L, (n,))``, then ``noise = torch.randn(x.shape)``, on x's
        device, where the generator must be.

    Returns
    -------
    () Tensor
        The estimate, differentiable in the model's parameters.

    Notes
    -----
    A ``weighting`` outside {"sigma2", "none"} is refused (``ValueError``, a non-string ``TypeError``).
    The unweighted residual s + eps / sigma is formed in at least float32 (eps / sigma overflows
    float16 at small sigma).
    Beigy's weighted J_dsm writes s_theta(x) and q(x, x~); the correct form, computed here, is
    s_theta(x~, sigma_t) against the score of the conditional q(x~ | x).

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Noise Conditioned Score Network (NCSN)'; Isachenko, DGM Lecture
    14, slide 'NCSN training' (``weighting="none"``); Beigy, Score-Based
    Generative Models, slides 'Denoising Score Matching (DSM)' (the NCSN loss weight sigma_t^2); Song
    and Ermon, NeurIPS 2019, eqs. (5)-(6).

    Examples
    --------
    The weight sigma^2 makes a zero model's loss 1/2 ||eps||^2 = 12.5 for eps = (3, 4) at every level:

    >>> zero = lambda x, sigma: torch.zeros_like(x)
    >>> x, sigmas, eps = torch.zeros(1, 2), torch.tensor([2.0, 0.5]), torch.tensor([[3.0, 4.0]])
    >>> [float(ncsn_loss(zero, x, sigmas, levels=torch.tensor([l]), noise=eps)) for l in (0, 1)]
    [12.5, 12.5]

    Unweighted (the slide's training loss): 1/2 ||eps / sigma_l||^2 = 12.5 / 0.25 = 50 at sigma_l = 0.5:

    >>> float(ncsn_loss(zero, x, sigmas, levels=torch.tensor([1]), noise=eps, weighting="none"))
    50.0
    """
    weighting = SA.weighting(weighting)
    x, sigma, eps = _check_ncsn(model, x, sigmas, noise_conditional, levels, noise, rng)  # sigma_{l_i}, (n,)
    sigma_b = _per_sample(sigma, x)
    x_tilde = torch.addcmul(x, sigma_b, eps)
    s = _scores(model, x_tilde, sigma) if noise_conditional else _scores(model, x_tilde)
    if weighting == "none":  # s + eps / sigma, in at least float32 (eps / sigma overflows float16)
        acc = C.accumulation_dtype(s.dtype)
        r = s.to(acc) + eps.to(acc) / sigma_b.to(acc)
        return _checked(_half_squared_norm_mean(r), (("x", x), ("noise", eps), ("model(x)", s)))
    # sigma^2 ||s + eps / sigma||^2 = ||sigma s + eps||^2: the same value, without eps / sigma, whose
    # square overflows float16 at small sigma (eps / sigma = 400 at sigma = 0.01).
    r = torch.addcmul(eps.to(C.accumulation_dtype(s.dtype)), sigma_b, s)
    return _checked(_half_squared_norm_mean(r), (("x", x), ("noise", eps), ("model(x)", s)))


def tweedie_denoise(y: torch.Tensor, score: torch.Tensor, sigma: float) -> torch.Tensor:
    r"""Tweedie's formula :math:`\mathbb{E}[x \mid y] = y + \sigma^2 \nabla_y \log p_\sigma(y)`.

    Parameters
    ----------
    y : (..., d) Tensor
        Noisy observations y = x + sigma eps, finite.
    score : (..., d) Tensor
        Score of the noisy marginal at y; same shape, dtype and device.
    sigma : float
        Noise standard deviation > 0.

    Returns
    -------
    (..., d) Tensor
        The posterior means.

    Notes
    -----
    A sigma whose square overflows float64 (above about 1.3e154) is refused with a ``ValueError``
    naming ``sigma``.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slides "Tweedie's Formula" and its proof; Efron, JASA 106 (2011).

    Examples
    --------
    Prior N(0, 1) and sigma = 1: p_sigma = N(0, 2) has the score -y / 2, so E[x | y] = y / 2 (closed form):

    >>> tweedie_denoise(torch.tensor([2.0]), torch.tensor([-1.0]), 1.0).tolist()
    [1.0]
    """
    y, score, sigma = _check_tweedie(y, score, sigma)
    return y + AD.squared("sigma", sigma) * score
