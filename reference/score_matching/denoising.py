"""Denoising score matching, NCSN's geometric noise levels and sigma^2-weighted loss, Tweedie's formula.

Slides: Isachenko, DGM Lecture 7, 'Denoising score matching' (theorem and proof); Advanced Course on
DGM, Lecture 8, 'Denoising Score Matching' and "Tweedie's Formula"; Isachenko, DGM Lecture 13,
'Denoising score matching' and 'Noise Conditioned Score Network (NCSN)' (recapped in Lecture 14);
Beigy, Score-Based Generative Models, 'Denoising Score Matching (DSM)' (the DSM estimator, its variance
as sigma -> 0, the NCSN levels and loss weight). Conventions in :mod:`reference.score_matching`.
"""

from __future__ import annotations

import math
import sys

import numpy as np

import reference._args as A
import reference._args.distributions as AD
import reference._args.score_matching as SA

from .. import _checks as C
from ._common import _checked, _samples, _scores, _sigma_table, _standard_normals, _sum_features

__all__ = ["denoising_score_matching", "geometric_sigmas", "ncsn_loss", "tweedie_denoise"]


def _check_dsm(
    model: object, x: object, sigma: object, noise_conditional: object, noise: object, rng: object
) -> tuple[np.ndarray, float, np.ndarray]:
    """(x, sigma, eps) of denoising score matching: a callable model, samples, sigma > 0, standard normals."""
    SA.check_model(model)
    sigma, _ = SA.noise_level(sigma, noise_conditional)
    x = _samples("x", x)
    return x, sigma, _standard_normals("noise", noise, rng, x)


def _check_ncsn(
    model: object, x: object, sigmas: object, noise_conditional: object, levels: object, noise: object, rng: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, sigma, eps) of the NCSN loss: samples, each sample's level sigma_{l_i} (n,), standard normals.

    The level indices ``levels`` (0-based) are checked against the table ``sigmas``, or drawn with
    ``rng`` (``rng.integers(0, L, n)``, before the noise), and gathered: ``sigma = sigmas[levels]``.
    """
    SA.check_model(model)
    A.flag("noise_conditional", noise_conditional)
    x = _samples("x", x)
    sigmas = _sigma_table(sigmas, x)
    L, n = sigmas.shape[0], x.shape[0]
    C.check_noise_or_rng(noise, rng)
    SA.levels_with_noise(levels, noise)
    l = C.as_int_array("levels", rng.integers(0, L, size=n) if noise is None else levels)
    C.check_shape("levels", l, (n,))
    if np.any(l < 0) or np.any(l >= L):
        raise ValueError(SA.levels_message(L, l.min(), l.max()))
    return x, sigmas[l], _standard_normals("noise", noise, rng, x)


def _check_tweedie(y: object, score: object, sigma: object) -> tuple[np.ndarray, np.ndarray, float]:
    """(y, score, sigma): finite observations (..., d), finite scores of their shape, sigma > 0."""
    y, score = C.as_float64("y", y), C.as_float64("score", score)
    C.check_ndim("y", y, 1)
    C.check_shape("score", score, y.shape)
    C.check_finite("y", y)
    C.check_finite("score", score)
    return y, score, A.positive("sigma", sigma)


def denoising_score_matching(
    model: object,
    x: np.ndarray,
    sigma: float,
    *,
    noise_conditional: bool = False,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Denoising score matching at one noise level, with the 1/2 of the Fisher divergence.

    .. math::

        J_{dsm}(\theta) = \frac12\, \mathbb{E}_{\pi(x)} \mathbb{E}_{\varepsilon \sim \mathcal N(0, I)}
            \Bigl\lVert s_\theta(x + \sigma\varepsilon) + \frac{\varepsilon}{\sigma} \Bigr\rVert_2^2
        \approx \frac1n \sum_{i=1}^n \frac12 \Bigl\lVert s_\theta(\tilde x_i) + \frac{\varepsilon_i}{\sigma}
            \Bigr\rVert_2^2, \qquad \tilde x_i = x_i + \sigma \varepsilon_i,

    since :math:`\nabla_{\tilde x} \log q(\tilde x \mid x) = -(\tilde x - x)/\sigma^2 = -\varepsilon/\sigma`.
    **Factor:** this is exactly Beigy's DSM estimator (slide on the variance of DSM as sigma -> 0:
    :math:`\frac1{2m}\sum_i \lVert z_i/\sigma + \nabla \log p_\theta(x_i + \sigma z_i)\rVert^2`) and
    the Lecture 8 'Denoising Score Matching' objective; Isachenko's Lecture 7 slide
    ('Denoising score matching', last form) and Lecture 13 write it without the 1/2, i.e. twice this.
    No sigma^2 weighting is applied (that is the NCSN objective, :func:`ncsn_loss`). It differs from
    :math:`\frac12 \mathbb{E}\lVert s_\theta(\tilde x) - \nabla \log q_\sigma(\tilde x)\rVert^2`
    (Fisher divergence to the noisy marginal) by a constant in theta (DSM theorem). (The Lecture 8
    slide prints the kernel score as :math:`-(x - \tilde x)/\sigma^2`, a sign typo.)

    Parameters
    ----------
    model : callable
        Score model: ``model(x_tilde)``, or ``model(x_tilde, sigma)`` with ``noise_conditional``.
        Any callable (no derivative is needed).
    x : (n, ...) array_like
        Clean samples, finite.
    sigma : float
        Noise standard deviation > 0.
    noise_conditional : bool
        Call the model as ``model(x_tilde, sigma)`` with ``sigma`` of shape (n,) filled with sigma
        (the NCSN s_theta(x', sigma)); default False: ``model(x_tilde)``. Changes only the call.
    noise : (n, ...) array_like, optional
        Standard normals eps. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws ``noise = rng.standard_normal(x.shape)``.

    Returns
    -------
    () ndarray
        The estimate.

    Notes
    -----
    An estimate that is not finite (a non-finite output of the model, or finite inputs whose scale
    overflows float64, e.g. noise at 1e300) is refused with a ``ValueError`` naming the inputs, as on
    the accelerated side (see Conventions in :mod:`reference.score_matching`); never inf or NaN.

    **Slide typos this function gets right.** (1) Lecture 7 'Denoising score matching' writes the
    noised objective as :math:`\mathbb{E}_\pi \lVert s_{\theta,\sigma}(x_\sigma) - \nabla_x \log
    q(x_\sigma)\rVert^2`; the correct form is :math:`\mathbb{E}_{q(x_\sigma)} \lVert s_{\theta,\sigma}
    (x_\sigma) - \nabla_{x_\sigma} \log q(x_\sigma)\rVert^2`, because the noisy points are distributed
    as q(x_sigma), not pi, and the score is the gradient in x_sigma (as on the slide's own theorem).
    (2) Lecture 8 'Denoising Score Matching' writes the two Fisher divergences as equal ("="); they are
    equal up to an additive constant in theta, "= ... + const" (Vincent 2011; the constant is
    :math:`\frac12 \mathbb{E}\lVert\nabla\log q_\sigma\rVert^2 - \frac12 \mathbb{E}\lVert\nabla
    \log q_\sigma(\tilde x \mid x)\rVert^2`, d / (2 sigma^2) - 1/2 tr((Sigma + sigma^2 I)^-1) for
    Gaussian data, see the theorem row). (3) Beigy's small-sigma expansion ('Denoising Score Matching
    (DSM)', the variance as sigma -> 0) keeps :math:`\frac2\sigma z^\top \nabla \log p_\theta(x) +
    \lVert z \rVert^2 / \sigma^2` and calls the rest "Constant"; the dropped terms
    :math:`\lVert \nabla \log p_\theta(x)\rVert^2 + 2 z^\top \nabla^2 \log p_\theta(x) z + O(\sigma)`
    depend on theta (they are the implicit score matching objective in expectation), so they are
    not a constant; only :math:`\lVert z\rVert^2/\sigma^2` is. This function evaluates the exact
    estimator, never the expansion.

    References
    ----------
    Isachenko, DGM Lecture 7, slides 'Denoising score matching' (theorem and proof); Advanced Course on
    DGM, Lecture 8, slide 'Denoising Score Matching'; Beigy, Score-Based Generative Models, slides
    'Denoising Score Matching (DSM)' (the estimator and its variance as sigma -> 0); Vincent, A Connection
    Between Score Matching and Denoising Autoencoders, Neural Computation 23 (2011).

    Examples
    --------
    A zero model leaves 1/2 ||eps / sigma||^2 = 1/2 (6^2 + 8^2) = 50 for eps = (3, 4), sigma = 0.5 (by hand):

    >>> float(denoising_score_matching(lambda x: 0 * x, np.zeros((1, 2)), 0.5, noise=np.array([[3.0, 4.0]])))
    50.0
    """
    x, sigma, eps = _check_dsm(model, x, sigma, noise_conditional, noise, rng)
    x_tilde = x + sigma * eps
    cond = (np.full(x.shape[0], sigma),) if noise_conditional else ()
    s = _scores(model, x_tilde, *cond)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by _checked
        value = np.mean(0.5 * _sum_features((s + eps / sigma) ** 2))
    return _checked(value, (("x", x), ("noise", eps), ("model(x)", s)))


def geometric_sigmas(sigma_1: float, sigma_L: float, L: int) -> np.ndarray:
    r"""NCSN noise levels: a decreasing geometric sequence from sigma_1 to sigma_L, in float64.

    .. math::

        \sigma_l = \sigma_1 \Bigl(\frac{\sigma_L}{\sigma_1}\Bigr)^{\frac{l-1}{L-1}}, \quad l = 1, \dots, L,
        \qquad \frac{\sigma_1}{\sigma_2} = \dots = \frac{\sigma_{L-1}}{\sigma_L} > 1.

    The end points are exactly ``sigma_1`` and ``sigma_L``.

    Where the ratio sigma_L / sigma_1 underflows float64 (e.g. sigma_1 = 1e300, sigma_L = 1e-300) the
    levels are computed in log space, :math:`\exp(\log\sigma_1 + t(\log\sigma_L - \log\sigma_1))`,
    on both sides alike.

    Parameters
    ----------
    sigma_1 : float
        The largest level (chosen so that pi(x' | sigma_1) is close to N(0, sigma_1^2 I)), finite. The
        rule (Song and Ermon 2020, Technique 1): sigma_1 about the largest pairwise distance
        max_ij ||x_i - x_j|| of the training data, so that the kernels of the two farthest points overlap
        (a point drawn from N(x_i, sigma_1^2 I) is attributed to x_j with probability at least
        1/2 erfc(1 / (2 sqrt 2)) = 0.31) and annealed Langevin can move between all modes at level 1.
        Checked on a data set by the theorem row "Noise levels' rule".
    sigma_L : float
        The smallest level, 0 < sigma_L < sigma_1 (pi(x' | sigma_L) close to pi(x)).
    L : int
        Number of levels, >= 2.

    Returns
    -------
    (L,) ndarray
        float64 levels, strictly decreasing.

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Noise Conditioned Score Network (NCSN)'; Beigy, Score-Based
    Generative Models, slides 'Denoising Score Matching (DSM)' (the NCSN noise levels, a decreasing
    geometric sequence); Song and Ermon, Generative Modeling by Estimating Gradients of the Data
    Distribution, NeurIPS 2019, Section 4.2; Song and Ermon, Improved Techniques for Training
    Score-Based Generative Models, NeurIPS 2020, Technique 1 (the choice of sigma_1).

    Examples
    --------
    From 1 to 0.01 in three levels the ratio is sqrt(1 / 0.01) = 10 (closed form):

    >>> geometric_sigmas(1.0, 0.01, 3).tolist()
    [1.0, 0.1, 0.01]
    """
    sigma_1, sigma_L, L = SA.geometric_arguments(sigma_1, sigma_L, L)
    t = np.arange(L) / (L - 1)
    ratio = sigma_L / sigma_1
    if ratio >= sys.float_info.min:
        sigmas = sigma_1 * ratio**t
    else:  # the ratio underflows float64 (e.g. 1e-300 / 1e300): the same levels, in log space
        sigmas = np.exp(math.log(sigma_1) + t * (math.log(sigma_L) - math.log(sigma_1)))
    sigmas[0], sigmas[-1] = sigma_1, sigma_L
    SA.check_distinct_levels(bool(np.all(np.diff(sigmas) < 0)), sigma_1, sigma_L, L)
    return sigmas


def ncsn_loss(
    model: object,
    x: np.ndarray,
    sigmas: np.ndarray,
    *,
    noise_conditional: bool = True,
    weighting: str = "sigma2",
    levels: np.ndarray | None = None,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""NCSN training loss: (sigma^2-weighted) denoising score matching at one random level per sample.

    .. math::

        \mathcal L(\theta) \approx \frac1n \sum_{i=1}^n \frac12\, \lambda(\sigma_{l_i})
            \Bigl\lVert s_\theta(\tilde x_i, \sigma_{l_i}) + \frac{\varepsilon_i}{\sigma_{l_i}} \Bigr\rVert_2^2,
        \qquad \tilde x_i = x_i + \sigma_{l_i} \varepsilon_i,\quad l_i \sim U\{1, \dots, L\}.

    **Two conventions** (``weighting=``): ``"sigma2"`` (the default), :math:`\lambda(\sigma) =
    \sigma^2`, the weighted objective of Lecture 13 'Noise Conditioned Score Network (NCSN)', of Beigy
    and of Song and Ermon, which puts every level on the same scale (the expected per-level loss of
    the exact noisy score is :math:`\frac12 \mathbb{E}\lVert \varepsilon + \sigma \nabla\log
    q_\sigma \rVert^2 \le d/2` for every sigma); ``"none"``, :math:`\lambda = 1`, the per-sample loss
    :math:`\lVert s_\theta(x_\sigma, \sigma_l) + \varepsilon/\sigma_l \rVert^2` of the slide's
    training algorithm (Lecture 14, 'NCSN training') with the 1/2 of the Fisher divergence,
    in which the small levels dominate (a term of order :math:`d / (2\sigma_l^2)`).

    Its expectation over the uniform levels is Song and Ermon's
    :math:`\frac1L \sum_l \lambda(\sigma_l)\, \ell(\theta; \sigma_l)` with :math:`\lambda(\sigma) =
    \sigma^2` and :math:`\ell` the DSM objective *with* the 1/2 (:func:`denoising_score_matching`).
    **Factors:** the Lecture 13 objective :math:`\sum_l \sigma_l^2 \mathbb{E}\lVert \cdot \rVert^2`
    (no 1/2, a sum over levels) is 2L times this in expectation; the per-sample loss of its training
    algorithm, :math:`\lVert s_\theta + \varepsilon/\sigma_l \rVert^2`, carries neither the 1/2 nor the
    weight. Beigy's weighted :math:`\mathcal J_{dsm}(\theta, \sigma_t)` is twice the per-level term.
    Computed as written (weight times squared norm).

    Parameters
    ----------
    model : callable
        Noise-conditional score model ``model(x_tilde, sigma)``, ``sigma`` of shape (n,) holding each
        sample's level (or ``model(x_tilde)`` with ``noise_conditional=False``).
    x : (n, ...) array_like
        Clean samples, finite.
    sigmas : (L,) array_like
        Noise levels sigma_1 > ... > sigma_L > 0 (e.g. :func:`geometric_sigmas`).
    noise_conditional : bool
        Default True: pass sigma to the model. Changes only the call.
    weighting : {"sigma2", "none"}
        The per-level weight lambda(sigma): sigma^2 (default; Lecture 13's weighted objective, Song and
        Ermon) or 1 (the slide's training algorithm, 'NCSN training'; the plain DSM loss at level l).
    levels : (n,) integer array_like, optional
        0-based level indices (index l - 1 for the slide's l), in [0, L). Pre-drawn levels go with
        ``noise``; with ``rng`` they are drawn.
    noise : (n, ...) array_like, optional
        Standard normals eps; requires ``levels``. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws ``levels = rng.integers(0, L, n)``, then ``noise = rng.standard_normal(x.shape)``.

    Returns
    -------
    () ndarray
        The estimate.

    Notes
    -----
    An estimate that is not finite (a non-finite output of the model, or finite inputs whose scale
    overflows float64, e.g. noise at 1e300) is refused with a ``ValueError`` naming the inputs, as on
    the accelerated side (see Conventions in :mod:`reference.score_matching`); never inf or NaN.
    A ``weighting`` outside {"sigma2", "none"} is refused (``ValueError``, a non-string ``TypeError``).

    **Slide typo this function gets right.** Beigy's weighted objective ('Denoising Score Matching
    (DSM)', the NCSN loss) writes :math:`\sigma_t^2\, \mathbb{E}\lVert s_\theta(x) - \nabla_{\tilde x}
    \log q_{\sigma_t}(x, \tilde x)\rVert^2`; the correct form is :math:`\sigma_t^2\, \mathbb{E}\lVert
    s_\theta(\tilde x, \sigma_t) - \nabla_{\tilde x} \log q_{\sigma_t}(\tilde x \mid x)\rVert^2`: the
    model is evaluated at the noisy point x~ (its own second line has s_theta(x~)), and the target is
    the score of the conditional q(x~ | x), not of the joint (their gradients in x~ agree, but the
    joint is not what the slide's derivation differentiates).

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'Noise Conditioned Score Network (NCSN)' (weighted objective and
    training algorithm); Isachenko, DGM Lecture 14, slide 'NCSN training' (the unweighted per-sample
    loss, ``weighting="none"``); Lecture 14, 'Recap of previous lecture' (NCSN training); Beigy, Score-Based
    Generative Models, slides 'Denoising Score Matching (DSM)' (the NCSN loss weight sigma_t^2); Song and
    Ermon, NeurIPS 2019, eqs. (5)-(6).

    Examples
    --------
    The weight sigma^2 makes a zero model's loss 1/2 ||eps||^2 = 12.5 for eps = (3, 4) at every level:

    >>> zero = lambda x, sigma: 0 * x
    >>> eps = np.array([[3.0, 4.0]])
    >>> [float(ncsn_loss(zero, np.zeros((1, 2)), np.array([2.0, 0.5]), levels=[l], noise=eps)) for l in (0, 1)]
    [12.5, 12.5]

    Unweighted (the slide's training loss), the same draws give 1/2 ||eps / sigma_l||^2 = 12.5 / sigma_l^2:

    >>> kw = dict(levels=[1], noise=eps, weighting="none")
    >>> float(ncsn_loss(zero, np.zeros((1, 2)), np.array([2.0, 0.5]), **kw))
    50.0
    """
    weighting = SA.weighting(weighting)
    x, sigma, eps = _check_ncsn(model, x, sigmas, noise_conditional, levels, noise, rng)  # sigma_{l_i}, (n,)
    sigma_b = sigma.reshape((-1,) + (1,) * (x.ndim - 1))  # broadcast over the feature axes
    x_tilde = x + sigma_b * eps
    cond = (sigma,) if noise_conditional else ()
    s = _scores(model, x_tilde, *cond)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by _checked
        weight = sigma**2 if weighting == "sigma2" else 1.0
        value = np.mean(0.5 * weight * _sum_features((s + eps / sigma_b) ** 2))
    return _checked(value, (("x", x), ("noise", eps), ("model(x)", s)))


def tweedie_denoise(y: np.ndarray, score: np.ndarray, sigma: float) -> np.ndarray:
    r"""Tweedie's formula: the posterior mean E[x | y] from the score of the noisy marginal.

    .. math::

        \hat x = \mathbb{E}[x \mid y] = y + \sigma^2 \nabla_y \log p_\sigma(y), \qquad
        y = x + \sigma \varepsilon,\ \varepsilon \sim \mathcal N(0, I),\quad
        p_\sigma(y) = \int \mathcal N(y; x, \sigma^2 I)\, p(x)\, dx.

    Exact for any prior p when the score of the noisy marginal is exact; with a learned score
    s_theta(y, sigma) it is the denoiser that DSM trains implicitly.

    Parameters
    ----------
    y : (..., d) array_like
        Noisy observations, finite.
    score : (..., d) array_like
        :math:`\nabla_y \log p_\sigma(y)` at each observation, same shape, finite.
    sigma : float
        Noise standard deviation > 0.

    Returns
    -------
    (..., d) ndarray
        The posterior means.

    Notes
    -----
    A sigma whose square overflows float64 (above about 1.3e154) is refused with a ``ValueError``
    naming ``sigma``.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slides "Tweedie's Formula" and its proof; Efron, Tweedie's
    Formula and Selection Bias, JASA 106 (2011).

    Examples
    --------
    Prior N(0, 1) and sigma = 1: p_sigma = N(0, 2) has the score -y / 2, so E[x | y] = y / 2 (closed form):

    >>> tweedie_denoise(np.array([2.0]), np.array([-1.0]), 1.0).tolist()
    [1.0]
    """
    y, score, sigma = _check_tweedie(y, score, sigma)
    return y + AD.squared("sigma", sigma) * score
