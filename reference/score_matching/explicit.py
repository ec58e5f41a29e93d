"""Fisher divergence and explicit score matching against a kernel density estimate.

Slides: Isachenko, DGM Lecture 7, 'Fisher divergence'; Advanced Course on DGM, Lecture 8, 'Score
Matching Via Fisher Divergence'; Beigy, Score-Based Generative Models, 'Score Matching (SM)' (explicit
score matching with a kernel density estimator). Conventions in :mod:`reference.score_matching`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

import reference._args as A
import reference._args.distributions as AD
import reference._args.score_matching as SA

from .. import _checks as C
from ._common import _checked, _flat, _probes, _samples, _scores, _standard_normals, _sum_features

__all__ = ["explicit_score_matching", "fisher_divergence", "kde_log_density", "kde_score", "sliced_fisher_divergence"]


def _check_score_pair(score_p: object, score_q: object) -> tuple[np.ndarray, np.ndarray]:
    """(s_p, s_q): two finite score arrays of one shape (n, ...), as float64."""
    s_p, s_q = _samples("score_p", score_p), _samples("score_q", score_q)
    C.check_shape("score_q", s_q, s_p.shape)
    return s_p, s_q


def _bandwidth(bandwidth: object) -> float:
    """A kernel width h > 0 whose square is a normal float64 (the score divides by h^2)."""
    h = A.positive("bandwidth", bandwidth)
    AD.squared("bandwidth", h, divisor=True)
    return h


def _check_kde(x: object, data: object, bandwidth: object) -> tuple[np.ndarray, np.ndarray, float]:
    """(x, data, h): evaluation points and kernel centres of one feature shape, finite, and h > 0."""
    x, data = _samples("x", x), _samples("data", data)
    if x.shape[1:] != data.shape[1:]:
        raise ValueError(f"x and data: expected the same feature shape, got x {x.shape} and data {data.shape}")
    return x, data, _bandwidth(bandwidth)


def _check_esm(
    model: object, data: object, bandwidth: object, noise: object, rng: object
) -> tuple[np.ndarray, float, np.ndarray]:
    """(data, h, eps) of explicit score matching: a callable model, kernel centres, h > 0, one normal per centre."""
    SA.check_model(model)
    data = _samples("data", data)
    return data, _bandwidth(bandwidth), _standard_normals("noise", noise, rng, data)


def fisher_divergence(score_p: np.ndarray, score_q: np.ndarray) -> np.ndarray:
    r"""Fisher divergence from score values at samples: the mean of one half the squared distance.

    .. math::

        D_F(\pi, p) = \frac12 \mathbb{E}_\pi \lVert \nabla_x \log p(x) - \nabla_x \log \pi(x) \rVert_2^2
        \approx \frac1n \sum_{i=1}^n \frac12 \lVert s_p(x_i) - s_q(x_i) \rVert_2^2,

    with the samples :math:`x_i` drawn from the distribution the expectation is over (the caller's
    choice; the function only sees the two score values at each sample). The factor 1/2 is the slide's.

    Parameters
    ----------
    score_p, score_q : (n, ...) array_like
        The two scores at the same n samples, finite.

    Returns
    -------
    () ndarray
        The estimate, >= 0 (half the mean squared Euclidean distance, not a distance).

    Notes
    -----
    An estimate that is not finite (a non-finite output of the model, or finite inputs whose scale
    overflows float64, e.g. noise at 1e300) is refused with a ``ValueError`` naming the inputs, as on
    the accelerated side (see Conventions in :mod:`reference.score_matching`); never inf or NaN.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Fisher divergence'; Advanced Course on DGM, Lecture 8, slide
    'Score Matching Via Fisher Divergence'; Hyvarinen, Estimation of Non-Normalized Statistical Models
    by Score Matching, JMLR 6 (2005).

    Examples
    --------
    One sample with s_p - s_q = (3, 4): 1/2 ||(3, 4)||^2 = 12.5 (the slide's 1/2, not a distance):

    >>> float(fisher_divergence(np.array([[3.0, 4.0]]), np.zeros((1, 2))))
    12.5
    """
    s_p, s_q = _check_score_pair(score_p, score_q)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by _checked
        value = np.mean(0.5 * _sum_features((s_p - s_q) ** 2))
    return _checked(value, (("score_p", s_p), ("score_q", s_q)))


def sliced_fisher_divergence(
    score_p: np.ndarray,
    score_q: np.ndarray,
    *,
    n_projections: int | None = None,
    kind: str = "gaussian",
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Sliced Fisher divergence from score values at samples: projections of the two scores compared.

    .. math::

        D_{SF}(\pi, p) = \frac12\, \mathbb{E}_{v}\mathbb{E}_\pi \bigl(v^\top s_p(x) - v^\top s_q(x)\bigr)^2
        \approx \frac1{nM} \sum_{i=1}^n \sum_{j=1}^M \frac12 \bigl(v_{ij}^\top (s_p(x_i) - s_q(x_i))\bigr)^2,

    the random projection of :func:`fisher_divergence` (the two known scores at the same samples, with
    M probes v per sample). For probes with :math:`\mathbb{E}[vv^\top] = I` (standard normal,
    Rademacher) its expectation over v is :func:`fisher_divergence`. With ``score_q`` the data score,
    it equals :func:`reference.score_matching.sliced_score_matching` of the model ``score_p`` plus a
    constant in theta, for every law of v and even for every fixed set of probes (integration by parts
    along each direction v; the constant :math:`\frac12 \mathbb{E}(v^\top \nabla \log \pi)^2`
    depends on the law of v).

    Parameters
    ----------
    score_p, score_q : (n, ...) array_like
        The two scores at the same n samples (e.g. the model's s_theta and the data's grad log pi), finite.
    n_projections : int, optional
        M, projections per sample: default 1 with ``rng``; with ``noise`` it is ``noise.shape[0]``
        and, if given, must equal it.
    kind : {'gaussian', 'rademacher'}
        Projection law drawn with ``rng`` (checked against ``noise``).
    noise : (M, n, ...) array_like, optional
        The projection vectors v. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws them as in :func:`reference.score_matching.hutchinson_trace`.

    Returns
    -------
    () ndarray
        The estimate, >= 0.

    Notes
    -----
    An estimate that is not finite (finite inputs whose scale overflows float64, e.g. scores at 1e300)
    is refused with a ``ValueError`` naming the inputs, as on the accelerated side; never inf or NaN.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Sliced Score Matching'; Beigy, Score-Based Generative
    Models, slides 'Denoising Score Matching (DSM)' (the sliced Fisher divergence D_SF there); Song,
    Garg, Shi, Ermon, Sliced Score Matching, UAI 2019, eq. (2).

    Examples
    --------
    s_p - s_q = (3, 4) projected on v = (1, 0): 1/2 * 3^2 = 4.5; on v = (1, 1): 1/2 * 7^2 = 24.5 (by hand):

    >>> v = np.array([[[1.0, 0.0]], [[1.0, 1.0]]])
    >>> float(sliced_fisher_divergence(np.array([[3.0, 4.0]]), np.zeros((1, 2)), noise=v))
    14.5
    """
    s_p, s_q = _check_score_pair(score_p, score_q)
    v = _probes(s_p, "n_projections", n_projections, kind, noise, rng)
    v = v.reshape(v.shape[0], *_flat(s_p).shape)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by _checked
        projected = np.einsum("mni,ni->mn", v, _flat(s_p - s_q))
        value = np.mean(0.5 * projected**2)
    return _checked(value, (("score_p", s_p), ("score_q", s_q), ("noise", v)))


def kde_score(x: np.ndarray, data: np.ndarray, bandwidth: float) -> np.ndarray:
    r"""Score of a Gaussian kernel density estimate of ``data``, evaluated at the rows of ``x``.

    .. math::

        q(x) = \frac1m \sum_{k=1}^m \mathcal N(x;\, x_k, h^2 I), \qquad
        \nabla_x \log q(x) = \sum_{k=1}^m w_k(x)\, \frac{x_k - x}{h^2}, \qquad
        w_k(x) = \operatorname{softmax}_k\Bigl(-\frac{\lVert x - x_k \rVert^2}{2h^2}\Bigr).

    The Beigy slide writes the kernel normaliser as 1/h (the 1-D case); for a Gaussian kernel in d
    dimensions it is :math:`(2\pi h^2)^{-d/2}`, which cancels in the score.

    Parameters
    ----------
    x : (n, ...) array_like
        Evaluation points, finite.
    data : (m, ...) array_like
        The data set x_1..x_m, finite.
    bandwidth : float
        Kernel width h > 0 (the standard deviation of each Gaussian kernel).

    Returns
    -------
    (n, ...) ndarray
        :math:`\nabla_x \log q(x_i)` for every row.

    Notes
    -----
    The weights are a stable softmax (the largest exponent is subtracted), so points far from all the
    data (every kernel underflows) still get the score of their nearest data points. The differences
    :math:`x_k - x` are formed directly (not through :math:`\lVert x\rVert^2 - 2x^\top x_k +
    \lVert x_k\rVert^2`), which keeps the result accurate to a few ulp relative to the exponents.
    A bandwidth whose square is not a normal float64 (h above about 1.3e154 or below about 1.5e-154)
    is refused with a ``ValueError`` naming ``bandwidth``: the score divides by h^2.
    Points so far from every data point that the squared distance in units of h overflows (every
    weight is then 0/0), or where the score itself overflows, are refused with a ``ValueError`` naming
    ``x`` (not a silent NaN).

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)' (kernel density estimator
    q(x) = 1/m sum_k K((x - x_k)/h) / h); Vincent, A Connection Between Score Matching and Denoising
    Autoencoders, Neural Computation 23 (2011), Section 4.

    Examples
    --------
    One kernel at 0 with h = 0.5: the score of N(0, h^2) at x = 1 is (0 - 1) / h^2 = -4 (closed form):

    >>> kde_score(np.array([[1.0]]), np.zeros((1, 1)), 0.5).tolist()
    [[-4.0]]
    """
    x, data, h = _check_kde(x, data, bandwidth)
    with np.errstate(over="ignore", invalid="ignore"):
        score = _kde_score(x, data, h)
    if not np.all(np.isfinite(score)):
        raise ValueError(SA.kde_far_message("x"))
    return score


def kde_log_density(x: np.ndarray, data: np.ndarray, bandwidth: float) -> np.ndarray:
    r"""Log of the Gaussian kernel density estimate q of ``data``, at the rows of ``x`` (a log-sum-exp).

    .. math::

        q(x) = \frac1m \sum_{k=1}^m \frac1{h^D} K\Bigl(\frac{x - x_k}{h}\Bigr), \qquad
        K(u) = (2\pi)^{-D/2} \exp\bigl(-\tfrac12 \lVert u \rVert^2\bigr),

    .. math::

        \log q(x) = \operatorname{logsumexp}_k\Bigl(-\frac{\lVert x - x_k \rVert^2}{2h^2}\Bigr) - \log m
            - \frac D2 \log(2\pi) - D \log h,

    i.e. the mixture :math:`\frac1m \sum_k \mathcal N(x; x_k, h^2 I)` of :func:`kde_score` (its
    gradient in x is :func:`kde_score`), with D the number of features of a sample.

    Parameters
    ----------
    x : (n, ...) array_like
        Evaluation points, finite.
    data : (m, ...) array_like
        The data set x_1..x_m, finite, of x's feature shape.
    bandwidth : float
        Kernel width h > 0 (the standard deviation of each Gaussian kernel).

    Returns
    -------
    (n,) ndarray
        :math:`\log q(x_i)` for every row.

    Notes
    -----
    **The normaliser.** Beigy's slide writes :math:`\frac1h K((x - x_k)/h)`, the one-dimensional
    kernel; in D dimensions a density needs :math:`\frac1{h^D} K((x - x_k)/h)` (the change of variables
    u = (x - x_k)/h has Jacobian h^D), which is what is used here, so that exp(log q) integrates to 1
    in every dimension. The normaliser cancels in the score (:func:`kde_score`), which is why the
    slide's objective J_esm is unaffected. The log-sum-exp subtracts the largest exponent, so points
    far from the data keep a finite log density; points so far that the squared distance in units of
    h overflows float64 are refused with a ``ValueError`` naming ``x``. A bandwidth whose square is
    not a normal float64 is refused as in :func:`kde_score`.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)' (the kernel density estimator
    q(x) = 1/m sum_k K((x - x_k)/h) / h); Parzen, On Estimation of a Probability Density Function and
    Mode, Annals of Mathematical Statistics 33 (1962).

    Examples
    --------
    One kernel at 0 with h = 1 is N(0, 1): log q(0) = -1/2 log(2 pi) (closed form):

    >>> bool(np.isclose(kde_log_density(np.zeros((1, 1)), np.zeros((1, 1)), 1.0)[0], -0.5 * np.log(2 * np.pi)))
    True
    """
    x, data, h = _check_kde(x, data, bandwidth)
    D = _flat(x).shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        diff = _flat(data)[None, :, :] - _flat(x)[:, None, :]  # x_k - x, (n, m, D)
        exponents = -0.5 * np.sum(diff**2, axis=-1) / h**2
        log_q = special.logsumexp(exponents, axis=1) - (
            math.log(data.shape[0]) + 0.5 * D * math.log(2 * math.pi) + D * math.log(h)
        )
    if not np.all(np.isfinite(log_q)):
        raise ValueError(SA.kde_log_density_message("x"))
    return log_q


def _kde_score(x: np.ndarray, data: np.ndarray, h: float) -> np.ndarray:
    """The KDE score of checked inputs (see :func:`kde_score`), of the flattened samples."""
    diff = _flat(data)[None, :, :] - _flat(x)[:, None, :]  # x_k - x, (n, m, D)
    log_w = -0.5 * np.sum(diff**2, axis=-1) / h**2
    w = special.softmax(log_w, axis=1)
    return (np.einsum("nm,nmd->nd", w, diff) / h**2).reshape(x.shape)


def explicit_score_matching(
    model: object,
    data: np.ndarray,
    bandwidth: float,
    *,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""Explicit score matching with a Gaussian kernel density estimate as the target, over samples of it.

    .. math::

        \tfrac12 J_{esm}(\theta) = \frac12 \int \lVert s_\theta(x) - \nabla_x \log q(x) \rVert^2 q(x)\, dx
        \approx \frac1m \sum_{k=1}^m \frac12 \lVert s_\theta(\tilde x_k) - \nabla \log q(\tilde x_k) \rVert^2,
        \qquad \tilde x_k = x_k + h\, \varepsilon_k,

    with q the KDE of :func:`kde_score`. As on the slide, the integral against
    :math:`q = \frac1m \sum_k \mathcal N(x_k, h^2 I)` is split over the kernels; one draw per kernel
    (:math:`\tilde x_k = x_k + h \varepsilon_k`, :math:`\varepsilon_k \sim \mathcal N(0, I)`) makes
    the average an unbiased estimate of it. **Factor:** this is one half of Beigy's
    :math:`J_{esm}` (the slide has no 1/2); it is the Fisher divergence :math:`D_F(q, p_\theta)` of
    :func:`fisher_divergence`. With the same ``noise`` and ``sigma = bandwidth``,
    :func:`denoising_score_matching` on ``data`` evaluates the model at the same points and differs
    from this objective by a constant in theta in expectation (Vincent 2011).

    Parameters
    ----------
    model : callable
        Score model, ``model(x)`` maps (m, ...) to (m, ...) (any callable: no derivative is needed).
    data : (m, ...) array_like
        The data set (kernel centres), finite.
    bandwidth : float
        Kernel width h > 0.
    noise : (m, ...) array_like, optional
        Standard normals eps_k, one per data point. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws ``noise = rng.standard_normal(data.shape)``.

    Returns
    -------
    () ndarray
        The estimate.

    Notes
    -----
    Everything is float64 here. The accelerated side also forms the perturbed points and the KDE
    target in float64 for float32 data, so that a bandwidth below the data's float32 resolution does
    not round the perturbation (and the target) away. A bandwidth whose square leaves float64's normal
    range is refused (see :func:`kde_score`). An estimate that is not finite (a non-finite output of the model,
    or noise at 1e300, whose kernel weights all underflow) is refused with a ``ValueError`` naming the
    inputs, as on the accelerated side; never inf or NaN.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)' (J_esm with a kernel density
    estimator); Vincent, Neural Computation 23 (2011), Section 4 (explicit score matching with a
    Parzen estimate).

    Examples
    --------
    One kernel at 0 with h = 1 is q = N(0, 1), whose score is -x: that model's objective is 0:

    >>> float(explicit_score_matching(lambda x: -x, np.zeros((1, 1)), 1.0, noise=np.ones((1, 1))))
    0.0
    """
    data, h, eps = _check_esm(model, data, bandwidth, noise, rng)
    x_tilde = data + h * eps
    s = _scores(model, x_tilde)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by _checked
        value = np.mean(0.5 * _sum_features((s - _kde_score(x_tilde, data, h)) ** 2))
    return _checked(value, (("data", data), ("noise", eps), ("model(x)", s)))
