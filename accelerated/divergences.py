"""Divergences between distributions in PyTorch: discrete KL and JSD, Gaussian KL, Monte-Carlo JSD.

Same formulas, names and parameters as :mod:`reference.divergences` (see it for the slides:
Isachenko DGM Lecture 7 recap 'Informal theoretical results'; Advanced Course on DGM Lecture 8,
'For an Optimal Discriminator' and 'Jensen-Shannon Divergence'; Isachenko DGM Lecture 13, recap
'ELBO of gaussian diffusion model' for the Gaussian KL).

Precision: results follow the input dtype and device. ``kl_gaussian`` does its covariance algebra
(Cholesky, triangular solves, log-determinants) in float64 and casts the result back, because in
float32 the trace and log-determinant terms cancel for nearby Gaussians and lose the answer.
``js_divergence_mc`` accumulates its sample means in float64 for the same reason.
All functions are differentiable with autograd in their inputs.

One-sided names: none.
"""

from __future__ import annotations

import math

import torch

import reference._args.divergences as AD

from . import _checks as C
from ._numerics import softplus

__all__ = ["js_divergence", "js_divergence_mc", "kl_divergence", "kl_gaussian"]

F64 = torch.float64


def _check_batch_not_empty(name: str, v: torch.Tensor) -> None:
    """Rows (..., n) with n >= 1 and at least one row: an empty batch axis is refused, as on the reference side."""
    if v.ndim >= 2 and v.shape[-1] > 0 and v.numel() == 0:
        raise ValueError(
            f"{name}: expected at least one probability row (no batch axis of size 0), got shape {tuple(v.shape)}"
        )


def _check_pq(p: object, q: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Two tensors of probability rows along the last axis, same size, broadcasting non-empty batch axes."""
    p = C.as_float_tensor("p", p)
    q = C.as_float_tensor("q", q)
    C.check_same_device_dtype(("p", "q"), (p, q))
    _check_batch_not_empty("p", p)
    C.check_simplex("p", p)
    _check_batch_not_empty("q", q)
    C.check_simplex("q", q)
    C.check_same_last_dim(("p", "q"), (p, q))
    C.broadcast_batch(("p", "q"), (p.shape[:-1], q.shape[:-1]))
    return p, q


def _check_gaussians(
    mu_p: object, cov_p: object, mu_q: object, cov_q: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two Gaussians N(mu, L L^T): the means and Cholesky factors in float64, broadcast to the common
    batch shape (the four inputs of one dtype and device)."""
    names = ("mu_p", "cov_p", "mu_q", "cov_q")
    mu_p, cov_p, mu_q, cov_q = tensors = [C.as_float_tensor(n, v) for n, v in zip(names, (mu_p, cov_p, mu_q, cov_q))]
    C.check_same_device_dtype(names, tensors)
    d = AD.gaussian_pair_dim(mu_p.shape, cov_p.shape, mu_q.shape, cov_q.shape)
    batch = C.broadcast_batch(names, (mu_p.shape[:-1], cov_p.shape[:-2], mu_q.shape[:-1], cov_q.shape[:-2]))
    C.check_finite("mu_p", mu_p)
    C.check_finite("mu_q", mu_q)
    L_p = C.cholesky_spd("cov_p", cov_p.to(F64)).expand(*batch, d, d)
    L_q = C.cholesky_spd("cov_q", cov_q.to(F64)).expand(*batch, d, d)
    return mu_p.to(F64).expand(*batch, d), L_p, mu_q.to(F64).expand(*batch, d), L_q


def _check_log_densities(
    log_p_x: object, log_q_x: object, log_p_y: object, log_q_y: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """log p and log q at samples x ~ p and y ~ q: no NaN, below +inf, each density positive at its own
    samples, the same number of samples per pair, broadcasting batch axes (one dtype and device)."""
    names = ("log_p_x", "log_q_x", "log_p_y", "log_q_y")
    tensors = tuple(C.as_float_tensor(n, v) for n, v in zip(names, (log_p_x, log_q_x, log_p_y, log_q_y)))
    C.check_same_device_dtype(names, tensors)
    for name, v in zip(names, tensors):
        C.check_ndim(name, v, 1)
        if v.shape[-1] == 0:
            raise ValueError(f"{name}: expected at least one sample along the last axis, got shape {tuple(v.shape)}")
        C.check_not_nan(name, v)
        if C.value_checks_active() and bool((v == math.inf).any()):
            raise ValueError(f"{name}: expected log-densities below +inf, got +inf")
    log_p_x, log_q_x, log_p_y, log_q_y = tensors
    for name, v in (("log_p_x", log_p_x), ("log_q_y", log_q_y)):  # a sample of p has p > 0, of q has q > 0
        if C.value_checks_active() and bool((v == -math.inf).any()):
            raise ValueError(f"{name}: the density must be positive at its own samples, got log-density -inf")
    for (a, x), (b, y) in (((names[0], log_p_x), (names[1], log_q_x)), ((names[2], log_p_y), (names[3], log_q_y))):
        if x.shape[-1] != y.shape[-1]:
            raise ValueError(
                f"{a} and {b}: expected the same number of samples, got {tuple(x.shape)} and {tuple(y.shape)}"
            )
    C.broadcast_batch(names, [v.shape[:-1] for v in tensors])
    return tensors


def _log_ratio(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """log(p / q) for p, q > 0; the difference of logs where the ratio over- or underflows."""
    ratio = p / q
    direct = torch.log(ratio)
    ok = torch.isfinite(direct) & (ratio > 0)
    return torch.where(ok, direct, torch.log(p) - torch.log(q))


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    r"""Kullback-Leibler divergence KL(p || q) along the last axis (see the reference for the slide).

    .. math::

        \mathrm{KL}(p \,\|\, q) = \sum_i p_i \log \frac{p_i}{q_i}, \qquad 0 \log 0 = 0.

    Parameters
    ----------
    p, q : (..., n) Tensor
        Probability vectors, same dtype and device; batch axes broadcast (none of size 0: at least one row).

    Returns
    -------
    (...) Tensor
        KL in nats, ``inf`` where ``q`` vanishes on the support of ``p``.

    Notes
    -----
    ``log(p_i / q_i)`` is formed as a difference of logs where the ratio would over- or underflow.
    A batch axis of size 0 is refused (``ValueError`` naming p or q): there is no row to check.

    Examples
    --------
    KL([1/2, 1/2] || [1/4, 3/4]) = 1/2 log(4/3) (by hand):

    >>> p, q = torch.tensor([0.5, 0.5], dtype=torch.float64), torch.tensor([0.25, 0.75], dtype=torch.float64)
    >>> float(kl_divergence(p, q))
    0.143841
    """
    p, q = _check_pq(p, q)
    one = torch.ones((), dtype=p.dtype, device=p.device)
    log_ratio = _log_ratio(torch.where(p > 0, p, one), q)
    terms = torch.where(p > 0, p * log_ratio, torch.zeros((), dtype=p.dtype, device=p.device))
    return terms.sum(dim=-1)


def _jsd_g(d: torch.Tensor) -> torch.Tensor:
    """g(d) = ((1 + d) log(1 + d) + (1 - d) log(1 - d)) / 2, cancellation-free (see the reference)."""
    a = d.abs()
    # Each branch sees only its own range, so neither produces inf * 0 (NaN values or gradients).
    a_small = torch.clamp(a, max=0.5)
    small = a_small * torch.atanh(a_small) + 0.5 * torch.log1p(-a_small * a_small)
    a_large = torch.clamp(a, min=0.5)
    large = 0.5 * ((1.0 + a_large) * torch.log1p(a_large) + torch.xlogy(1.0 - a_large, 1.0 - a_large))
    return torch.where(a < 0.5, small, large)


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    r"""Jensen-Shannon divergence along the last axis, in nats (see the reference for the slide).

    .. math::

        \mathrm{JSD}(p, q) = \sum_i m_i\, g\!\left(\frac{p_i - q_i}{p_i + q_i}\right), \quad
        m = \frac{p + q}{2}, \quad g(d) = \tfrac12[(1+d)\log(1+d) + (1-d)\log(1-d)],

    which equals :math:`\tfrac12 \mathrm{KL}(p\|m) + \tfrac12 \mathrm{KL}(q\|m)` term by term.

    Parameters
    ----------
    p, q : (..., n) Tensor
        Probability vectors, same dtype and device; batch axes broadcast (none of size 0: at least one row).

    Returns
    -------
    (...) Tensor
        JSD in [0, log 2] (the divergence, not SciPy's square-rooted distance).

    Notes
    -----
    Each term is non-negative, so the result lies in [0, log 2] and is never NaN; each branch of g sees
    only its own range (clamped), so neither yields NaN values or gradients.
    A batch axis of size 0 is refused (``ValueError`` naming p or q): there is no row to check.

    Slide typo: Lecture 8's slide 'Jensen-Shannon Divergence' says JSD is "also called the symmetric KL
    divergence"; that is false. The symmetric KL (Jeffreys) is (KL(p || q) + KL(q || p)) / 2, unbounded
    (+inf for disjoint supports, and for p = (1, 0), q = (1/2, 1/2)); JSD symmetrises the KL *to the
    mixture* m = (p + q) / 2, is bounded by log 2 and is finite for any p, q. This function computes
    the slide's formula (the mixture form), which is the correct JSD.

    Examples
    --------
    Disjoint supports give JSD = log 2 (L7 recap 'Informal theoretical results'):

    >>> float(js_divergence(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])))
    0.693147
    """
    p, q = _check_pq(p, q)
    m = 0.5 * (p + q)
    s = p + q
    positive = s > 0
    d = torch.where(positive, (p - q) / torch.where(positive, s, torch.ones_like(s)), torch.zeros_like(s))
    return (m * _jsd_g(d)).sum(dim=-1)


def kl_gaussian(mu_p: torch.Tensor, cov_p: torch.Tensor, mu_q: torch.Tensor, cov_q: torch.Tensor) -> torch.Tensor:
    r"""KL(N(mu_p, cov_p) || N(mu_q, cov_q)) for full covariances, batched, computed in float64.

    .. math::

        \mathrm{KL} = \tfrac12 \Big[ \|L_q^{-1} L_p\|_F^2 + \|L_q^{-1}(\mu_q - \mu_p)\|^2 - d
        + 2\sum_i \log (L_q)_{ii} - 2\sum_i \log (L_p)_{ii} \Big], \quad \Sigma = L L^\top.

    Parameters
    ----------
    mu_p, mu_q : (..., d) Tensor
    cov_p, cov_q : (..., d, d) Tensor
        Symmetric positive definite. Same dtype and device; batch axes broadcast.

    Returns
    -------
    (...) Tensor
        KL in nats, in the input dtype.

    Notes
    -----
    The covariance algebra (Cholesky, triangular solves, log-determinants) runs in float64 and the
    result is cast back: in float32 the trace and log-determinant terms cancel for nearby Gaussians.

    A KL that overflows from finite inputs (means or covariances near 1e300, or a float64 value beyond
    the range of the input dtype) is refused with a ``ValueError`` naming the inputs (a device-side
    check, no host read), as the reference does; it is never returned as inf.

    Examples
    --------
    KL(N(0, 1) || N(1, 1)) = (1 - 0)^2 / 2 (closed form):

    >>> one = torch.ones(1, dtype=torch.float64)
    >>> float(kl_gaussian(0 * one, torch.eye(1, dtype=torch.float64), one, torch.eye(1, dtype=torch.float64)))
    0.5
    """
    inputs = list(zip(("mu_p", "cov_p", "mu_q", "cov_q"), (mu_p, cov_p, mu_q, cov_q)))
    mu_p, L_p, mu_q, L_q = _check_gaussians(mu_p, cov_p, mu_q, cov_q)  # float64, Sigma = L L^T, broadcast
    d = mu_p.shape[-1]
    delta = mu_q - mu_p
    A = torch.linalg.solve_triangular(L_q, L_p, upper=False)
    trace_term = (A * A).sum(dim=(-2, -1))
    z = torch.linalg.solve_triangular(L_q, delta.unsqueeze(-1), upper=False).squeeze(-1)
    mahalanobis = (z * z).sum(dim=-1)
    logdet_p = 2.0 * torch.log(torch.diagonal(L_p, dim1=-2, dim2=-1)).sum(dim=-1)
    logdet_q = 2.0 * torch.log(torch.diagonal(L_q, dim1=-2, dim2=-1)).sum(dim=-1)
    out = (0.5 * (trace_term + mahalanobis - d + logdet_q - logdet_p)).to(cov_p.dtype)  # the inputs' dtype
    return C.check_result(out, inputs)


def js_divergence_mc(
    log_p_x: torch.Tensor, log_q_x: torch.Tensor, log_p_y: torch.Tensor, log_q_y: torch.Tensor
) -> torch.Tensor:
    r"""Monte-Carlo JSD from samples x ~ p and y ~ q and the log-densities at them (see the reference).

    .. math::

        \widehat{\mathrm{JSD}} = \log 2
        - \tfrac{1}{2}\,\overline{\mathrm{softplus}(\log q(x) - \log p(x))}
        - \tfrac{1}{2}\,\overline{\mathrm{softplus}(\log p(y) - \log q(y))}.

    Parameters
    ----------
    log_p_x, log_q_x : (..., n) Tensor
        log p and log q at the samples of p (last axis indexes samples).
    log_p_y, log_q_y : (..., m) Tensor
        log p and log q at the samples of q. Same dtype and device; batch axes broadcast.

    Returns
    -------
    (...) Tensor
        The estimate in nats, in the input dtype.

    Notes
    -----
    The sample means accumulate in float64 (a float32 mean of many softplus terms loses digits).

    Examples
    --------
    Samples of p where q vanishes and of q where p vanishes: JSD = log 2 exactly (disjoint supports):

    >>> zero, never = torch.zeros(2), torch.full((2,), -math.inf)
    >>> float(js_divergence_mc(zero, never, never, zero))
    0.693147
    """
    log_p_x, log_q_x, log_p_y, log_q_y = _check_log_densities(log_p_x, log_q_x, log_p_y, log_q_y)
    term_p = softplus(log_q_x - log_p_x).mean(dim=-1, dtype=torch.float64)
    term_q = softplus(log_p_y - log_q_y).mean(dim=-1, dtype=torch.float64)
    return (math.log(2.0) - 0.5 * term_p - 0.5 * term_q).to(log_p_x.dtype)
