"""Divergences between distributions: discrete KL and JSD, Gaussian KL, Monte-Carlo JSD.

Slides implemented
------------------
* Isachenko, Deep Generative Models, Lecture 7, recap slide 'Informal theoretical results'
  (disjoint supports: KL = inf, JSD = log 2) and 'GAN optimality theorem' (2 JSD - log 4).
* Advanced Course on DGM, Lecture 8: GANs, Samples, Energy/Score-based models, slides
  'For an Optimal Discriminator' and 'Jensen-Shannon Divergence'
  (JSD[p, q] = 1/2 (KL[p, (p+q)/2] + KL[q, (p+q)/2])).
* Isachenko, Deep Generative Models, Lecture 13, recap slide 'ELBO of gaussian diffusion model'
  (the KL between Gaussians that its terms are made of).

Conventions: natural logarithm (nats); ``0 log 0 = 0``; discrete distributions lie along the last
axis and leading axes are batch axes that broadcast. ``js_divergence`` is the *divergence*, in
[0, log 2]; SciPy's ``jensenshannon`` returns its square root (a distance) and uses base e too.
"""

from __future__ import annotations

import numpy as np

import reference._args.divergences as AD

from . import _checks as C

__all__ = ["js_divergence", "js_divergence_mc", "kl_divergence", "kl_gaussian"]


def _check_batch_not_empty(name: str, v: np.ndarray) -> None:
    """Rows (..., n) with n >= 1 and at least one row: an empty batch axis is refused (there is no row to check)."""
    if v.ndim >= 2 and v.shape[-1] > 0 and v.size == 0:
        raise ValueError(
            f"{name}: expected at least one probability row (no batch axis of size 0), got shape {v.shape}"
        )


def _check_pq(p: object, q: object) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays of probability rows along the last axis, same size, broadcasting non-empty batch axes."""
    p = C.as_float64("p", p)
    q = C.as_float64("q", q)
    _check_batch_not_empty("p", p)
    C.check_simplex("p", p)
    _check_batch_not_empty("q", q)
    C.check_simplex("q", q)
    C.check_same_last_dim(("p", "q"), (p, q))
    C.broadcast_batch(("p", "q"), (p.shape[:-1], q.shape[:-1]))
    return p, q


def _check_gaussians(
    mu_p: object, cov_p: object, mu_q: object, cov_q: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two Gaussians N(mu, L L^T): the means and Cholesky factors, broadcast to the common batch shape."""
    names = ("mu_p", "cov_p", "mu_q", "cov_q")
    mu_p, cov_p, mu_q, cov_q = (C.as_float64(n, v) for n, v in zip(names, (mu_p, cov_p, mu_q, cov_q)))
    d = AD.gaussian_pair_dim(mu_p.shape, cov_p.shape, mu_q.shape, cov_q.shape)
    batch = C.broadcast_batch(names, (mu_p.shape[:-1], cov_p.shape[:-2], mu_q.shape[:-1], cov_q.shape[:-2]))
    C.check_finite("mu_p", mu_p)
    C.check_finite("mu_q", mu_q)
    L_p = np.broadcast_to(C.cholesky_spd("cov_p", cov_p), (*batch, d, d))
    L_q = np.broadcast_to(C.cholesky_spd("cov_q", cov_q), (*batch, d, d))
    return np.broadcast_to(mu_p, (*batch, d)), L_p, np.broadcast_to(mu_q, (*batch, d)), L_q


def _check_log_densities(
    log_p_x: object, log_q_x: object, log_p_y: object, log_q_y: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """log p and log q at samples x ~ p and y ~ q: no NaN, below +inf, each density positive at its own
    samples, the same number of samples per pair, broadcasting batch axes."""
    names = ("log_p_x", "log_q_x", "log_p_y", "log_q_y")
    arrays = tuple(C.as_float64(n, v) for n, v in zip(names, (log_p_x, log_q_x, log_p_y, log_q_y)))
    for name, v in zip(names, arrays):
        C.check_ndim(name, v, 1)
        if v.shape[-1] == 0:
            raise ValueError(f"{name}: expected at least one sample along the last axis, got shape {v.shape}")
        C.check_not_nan(name, v)
        if np.any(v == np.inf):
            raise ValueError(f"{name}: expected log-densities below +inf, got +inf")
    log_p_x, log_q_x, log_p_y, log_q_y = arrays
    for name, v in (("log_p_x", log_p_x), ("log_q_y", log_q_y)):  # a sample of p has p > 0, of q has q > 0
        if np.any(np.isneginf(v)):
            raise ValueError(f"{name}: the density must be positive at its own samples, got log-density -inf")
    for (a, x), (b, y) in (((names[0], log_p_x), (names[1], log_q_x)), ((names[2], log_p_y), (names[3], log_q_y))):
        if x.shape[-1] != y.shape[-1]:
            raise ValueError(f"{a} and {b}: expected the same number of samples, got {x.shape} and {y.shape}")
    C.broadcast_batch(names, [v.shape[:-1] for v in arrays])
    return arrays


def _log_ratio(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """log(p / q) for p, q > 0; the difference of logs where the ratio over- or underflows."""
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        ratio = p / q
        direct = np.log(ratio)
        fallback = np.log(p) - np.log(q)
    ok = np.isfinite(direct) & (ratio > 0)
    return np.where(ok, direct, fallback)


def kl_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    r"""Kullback-Leibler divergence KL(p || q) between discrete distributions along the last axis.

    .. math::

        \mathrm{KL}(p \,\|\, q) = \sum_i p_i \log \frac{p_i}{q_i},
        \qquad 0 \log \tfrac{0}{q} = 0,\quad p_i > 0 = q_i \Rightarrow \mathrm{KL} = \infty.

    Parameters
    ----------
    p, q : (..., n) array_like
        Probability vectors (non-negative, each row summing to 1 within 1e-5); batch axes broadcast
        (none of size 0: at least one row).

    Returns
    -------
    (...) ndarray
        KL in nats, ``inf`` where ``q`` vanishes on the support of ``p``.

    Notes
    -----
    Each term is SciPy's ``rel_entr(p_i, q_i)``; ``log(p_i / q_i)`` is formed as a difference of logs
    where the ratio would over- or underflow (e.g. ``q_i`` subnormal), so such terms stay finite.
    A batch axis of size 0 is refused (``ValueError`` naming p or q): there is no row to check.

    References
    ----------
    Isachenko, DGM Lecture 7, recap slide 'Informal theoretical results'.

    Examples
    --------
    KL([1/2, 1/2] || [1/4, 3/4]) = 1/2 log 2 + 1/2 log(2/3) = 1/2 log(4/3) (by hand):

    >>> float(kl_divergence([0.5, 0.5], [0.25, 0.75]))
    0.143841

    Disjoint supports give KL = inf (L7 recap 'Informal theoretical results'):

    >>> float(kl_divergence([1.0, 0.0], [0.0, 1.0]))
    inf
    """
    p, q = _check_pq(p, q)
    log_ratio = _log_ratio(np.where(p > 0, p, 1.0), q)  # the value at p = 0 is masked below
    with np.errstate(invalid="ignore"):  # 0 * inf at masked entries
        terms = np.where(p > 0, p * log_ratio, 0.0)
    return np.sum(terms, axis=-1)


def _jsd_g(d: np.ndarray) -> np.ndarray:
    r"""g(d) = ((1 + d) log(1 + d) + (1 - d) log(1 - d)) / 2 for d in [-1, 1], without cancellation.

    Uses g(d) = d artanh(d) + log(1 - d^2) / 2 for |d| < 1/2 (the two terms share their leading d^2,
    so at most one bit is lost) and the defining form otherwise; g(+-1) = log 2.
    """
    a = np.abs(d)
    with np.errstate(divide="ignore", invalid="ignore"):
        small = a * np.arctanh(a) + 0.5 * np.log1p(-a * a)
        large = 0.5 * ((1.0 + a) * np.log1p(a) + np.where(a < 1.0, (1.0 - a) * np.log1p(-a), 0.0))
    return np.where(a < 0.5, small, large)


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    r"""Jensen-Shannon divergence between discrete distributions along the last axis, in nats.

    .. math::

        \mathrm{JSD}(p, q) = \tfrac12 \mathrm{KL}(p \,\|\, m) + \tfrac12 \mathrm{KL}(q \,\|\, m),
        \quad m = \tfrac{p + q}{2},

    evaluated term by term as :math:`\sum_i m_i\, g(d_i)` with :math:`d_i = (p_i - q_i)/(p_i + q_i)`
    and :math:`g(d) = \tfrac12[(1+d)\log(1+d) + (1-d)\log(1-d)] \in [0, \log 2]` (substitute
    :math:`p_i = m_i (1 + d_i)`, :math:`q_i = m_i (1 - d_i)`).

    Parameters
    ----------
    p, q : (..., n) array_like
        Probability vectors; batch axes broadcast (none of size 0: at least one row).

    Returns
    -------
    (...) ndarray
        JSD in [0, log 2]; ``log 2`` for disjoint supports. This is the divergence, the square of
        ``scipy.spatial.distance.jensenshannon``.

    Notes
    -----
    Every term :math:`m_i g(d_i)` is non-negative, so the result is never negative and never NaN, and
    nearly equal p and q lose no digits to cancellation. g is evaluated as
    :math:`d \operatorname{artanh}(d) + \tfrac12 \log(1 - d^2)` for :math:`|d| < 1/2`. The result is at
    most :math:`\log 2 \sum_i m_i`, i.e. log 2 up to the 1e-5 normalisation tolerance.
    A batch axis of size 0 is refused (``ValueError`` naming p or q): there is no row to check.

    Slide typo: Lecture 8's slide 'Jensen-Shannon Divergence' says JSD is "also called the symmetric KL
    divergence"; that is false. The symmetric KL (Jeffreys) is (KL(p || q) + KL(q || p)) / 2, unbounded
    (+inf for disjoint supports, and for p = (1, 0), q = (1/2, 1/2)); JSD symmetrises the KL *to the
    mixture* m = (p + q) / 2, is bounded by log 2 and is finite for any p, q. This function computes
    the slide's formula (the mixture form), which is the correct JSD.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Jensen-Shannon Divergence';
    Lin, Divergence measures based on the Shannon entropy, IEEE Trans. Inf. Theory 37 (1991).

    Examples
    --------
    Disjoint supports give JSD = log 2 (L7 recap 'Informal theoretical results'):

    >>> float(js_divergence([1.0, 0.0], [0.0, 1.0]))
    0.693147
    """
    p, q = _check_pq(p, q)
    m = 0.5 * (p + q)
    s = p + q
    d = np.where(s > 0, (p - q) / np.where(s > 0, s, 1.0), 0.0)
    return np.sum(m * _jsd_g(d), axis=-1)


def kl_gaussian(mu_p: np.ndarray, cov_p: np.ndarray, mu_q: np.ndarray, cov_q: np.ndarray) -> np.ndarray:
    r"""KL(N(mu_p, cov_p) || N(mu_q, cov_q)) for full covariance matrices, batched.

    .. math::

        \mathrm{KL} = \tfrac12 \Big[ \operatorname{tr}(\Sigma_q^{-1}\Sigma_p)
        + (\mu_q - \mu_p)^\top \Sigma_q^{-1} (\mu_q - \mu_p) - d
        + \log\det\Sigma_q - \log\det\Sigma_p \Big].

    Parameters
    ----------
    mu_p, mu_q : (..., d) array_like
        Means.
    cov_p, cov_q : (..., d, d) array_like
        Symmetric positive definite covariances. Batch axes of all four broadcast.

    Returns
    -------
    (...) ndarray
        KL in nats.

    Notes
    -----
    Computed through the Cholesky factors :math:`\Sigma = L L^\top`:
    :math:`\operatorname{tr}(\Sigma_q^{-1}\Sigma_p) = \|L_q^{-1} L_p\|_F^2`, the Mahalanobis term is
    :math:`\|L_q^{-1}(\mu_q - \mu_p)\|^2` and :math:`\log\det\Sigma = 2\sum_i \log L_{ii}`; no inverse is
    formed.

    A KL that overflows float64 from finite inputs (means or covariances near 1e300, whose squared
    Mahalanobis distance or trace is beyond the float range) is refused with a ``ValueError`` naming the
    inputs, as for every summary value; it is never returned as inf.

    References
    ----------
    Isachenko, DGM Lecture 13, recap slide 'ELBO of gaussian diffusion model' (the KL terms L_t and
    KL(q(x_T | x_0) || p(x_T)) are KLs between Gaussians); Kullback, Information Theory and
    Statistics (1959).

    Examples
    --------
    KL(N(0, 1) || N(1, 1)) = (1 - 0)^2 / 2 (closed form: equal variances leave the Mahalanobis term):

    >>> float(kl_gaussian(np.zeros(1), np.eye(1), np.ones(1), np.eye(1)))
    0.5
    """
    inputs = list(zip(("mu_p", "cov_p", "mu_q", "cov_q"), (mu_p, cov_p, mu_q, cov_q)))
    mu_p, L_p, mu_q, L_q = _check_gaussians(mu_p, cov_p, mu_q, cov_q)  # Sigma = L L^T, batch broadcast
    d = mu_p.shape[-1]
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by check_result below
        delta = mu_q - mu_p
        A = np.linalg.solve(L_q, L_p)  # L_q^{-1} L_p
        trace_term = np.sum(A * A, axis=(-2, -1))
        z = np.linalg.solve(L_q, delta[..., None])[..., 0]  # L_q^{-1} (mu_q - mu_p)
        mahalanobis = np.sum(z * z, axis=-1)
        logdet_p = 2.0 * np.sum(np.log(np.diagonal(L_p, axis1=-2, axis2=-1)), axis=-1)
        logdet_q = 2.0 * np.sum(np.log(np.diagonal(L_q, axis1=-2, axis2=-1)), axis=-1)
        out = 0.5 * (trace_term + mahalanobis - d + logdet_q - logdet_p)
    return C.check_result(out, inputs)


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)), exact for every x (softplus(-inf) = 0, softplus(inf) = inf)."""
    return np.logaddexp(0.0, x)


def js_divergence_mc(log_p_x: np.ndarray, log_q_x: np.ndarray, log_p_y: np.ndarray, log_q_y: np.ndarray) -> np.ndarray:
    r"""Monte-Carlo estimate of JSD(p, q) between continuous densities, from samples of each.

    With :math:`x_i \sim p` (i = 1..n) and :math:`y_j \sim q` (j = 1..m) and the log-densities of both
    distributions at every sample, the two expectations of the JSD are averaged. Since
    :math:`\log \frac{p}{m} = \log 2 - \log(1 + q/p) = \log 2 - \mathrm{softplus}(\log q - \log p)`,

    .. math::

        \widehat{\mathrm{JSD}} = \log 2
        - \frac{1}{2n}\sum_i \mathrm{softplus}\big(\log q(x_i) - \log p(x_i)\big)
        - \frac{1}{2m}\sum_j \mathrm{softplus}\big(\log p(y_j) - \log q(y_j)\big),

    The estimate is unbiased and never exceeds log 2, but with few samples it can fall below 0 (the
    divergence itself cannot).

    Parameters
    ----------
    log_p_x, log_q_x : (..., n) array_like
        log p and log q at the samples x_i ~ p (the last axis indexes samples).
    log_p_y, log_q_y : (..., m) array_like
        log p and log q at the samples y_j ~ q. Batch axes broadcast.

    Returns
    -------
    (...) ndarray
        The estimate in nats.

    Notes
    -----
    A stable two-term log-sum-exp: no density is exponentiated, and :math:`\log q(x_i) = -\infty`
    (a sample of p outside the support of q) contributes exactly 0.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slides 'For an Optimal Discriminator' and
    'Jensen-Shannon Divergence'.

    Examples
    --------
    Samples of p where q vanishes and of q where p vanishes: disjoint supports, JSD = log 2 exactly
    (L7 recap 'Informal theoretical results'):

    >>> float(js_divergence_mc(np.zeros(2), np.full(2, -np.inf), np.full(2, -np.inf), np.zeros(2)))
    0.693147
    """
    log_p_x, log_q_x, log_p_y, log_q_y = _check_log_densities(log_p_x, log_q_x, log_p_y, log_q_y)
    term_p = np.mean(_softplus(log_q_x - log_p_x), axis=-1)
    term_q = np.mean(_softplus(log_p_y - log_q_y), axis=-1)
    return np.log(2.0) - 0.5 * term_p - 0.5 * term_q
