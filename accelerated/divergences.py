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

from . import _checks as C
from ._numerics import softplus

__all__ = ["js_divergence", "js_divergence_mc", "kl_divergence", "kl_gaussian"]


def _check_pq(p: torch.Tensor, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    p = C.as_float_tensor("p", p)
    q = C.as_float_tensor("q", q)
    C.check_same_device_dtype(("p", "q"), (p, q))
    C.check_simplex("p", p)
    C.check_simplex("q", q)
    C.check_same_last_dim(("p", "q"), (p, q))
    C.broadcast_batch(("p", "q"), (p.shape[:-1], q.shape[:-1]))
    return p, q


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
        Probability vectors, same dtype and device; batch axes broadcast.

    Returns
    -------
    (...) Tensor
        KL in nats, ``inf`` where ``q`` vanishes on the support of ``p``.
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

    which equals :math:`\tfrac12 \mathrm{KL}(p\|m) + \tfrac12 \mathrm{KL}(q\|m)` term by term; each term
    is non-negative, so the result lies in [0, log 2] and is never NaN.

    Parameters
    ----------
    p, q : (..., n) Tensor
        Probability vectors, same dtype and device; batch axes broadcast.

    Returns
    -------
    (...) Tensor
        JSD in [0, log 2] (the divergence, not SciPy's square-rooted distance).
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
        KL in nats, in the input dtype (computed in float64).
    """
    names = ("mu_p", "cov_p", "mu_q", "cov_q")
    tensors = [C.as_float_tensor(n, t) for n, t in zip(names, (mu_p, cov_p, mu_q, cov_q))]
    C.check_same_device_dtype(names, tensors)
    mu_p, cov_p, mu_q, cov_q = tensors
    out_dtype = mu_p.dtype
    C.check_ndim("mu_p", mu_p, 1)
    C.check_ndim("mu_q", mu_q, 1)
    d = mu_p.shape[-1]
    for name, x in (("mu_q", mu_q), ("cov_p", cov_p), ("cov_q", cov_q)):
        if x.shape[-1] != d:
            raise ValueError(f"{name}: expected dimension d = {d} (from mu_p), got shape {tuple(x.shape)}")
    batch = C.broadcast_batch(names, (mu_p.shape[:-1], cov_p.shape[:-2], mu_q.shape[:-1], cov_q.shape[:-2]))
    C.check_finite("mu_p", mu_p)
    C.check_finite("mu_q", mu_q)
    f64 = torch.float64
    L_p = C.cholesky_spd("cov_p", cov_p.to(f64))
    L_q = C.cholesky_spd("cov_q", cov_q.to(f64))
    L_p = L_p.expand(*batch, d, d)
    L_q = L_q.expand(*batch, d, d)
    delta = (mu_q.to(f64) - mu_p.to(f64)).expand(*batch, d)

    A = torch.linalg.solve_triangular(L_q, L_p, upper=False)
    trace_term = (A * A).sum(dim=(-2, -1))
    z = torch.linalg.solve_triangular(L_q, delta.unsqueeze(-1), upper=False).squeeze(-1)
    mahalanobis = (z * z).sum(dim=-1)
    logdet_p = 2.0 * torch.log(torch.diagonal(L_p, dim1=-2, dim2=-1)).sum(dim=-1)
    logdet_q = 2.0 * torch.log(torch.diagonal(L_q, dim1=-2, dim2=-1)).sum(dim=-1)
    return (0.5 * (trace_term + mahalanobis - d + logdet_q - logdet_p)).to(out_dtype)


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
        The estimate in nats (means accumulated in float64, returned in the input dtype).
    """
    names = ("log_p_x", "log_q_x", "log_p_y", "log_q_y")
    tensors = [C.as_float_tensor(n, t) for n, t in zip(names, (log_p_x, log_q_x, log_p_y, log_q_y))]
    C.check_same_device_dtype(names, tensors)
    log_p_x, log_q_x, log_p_y, log_q_y = tensors
    for name, v in zip(names, tensors):
        C.check_ndim(name, v, 1)
        if v.shape[-1] == 0:
            raise ValueError(f"{name}: expected at least one sample along the last axis, got shape {tuple(v.shape)}")
        C.check_not_nan(name, v)
        if C.value_checks_active() and bool((v == math.inf).any()):
            raise ValueError(f"{name}: expected log-densities below +inf, got +inf")
    for name, v in (("log_p_x", log_p_x), ("log_q_y", log_q_y)):
        if C.value_checks_active() and bool((v == -math.inf).any()):
            raise ValueError(f"{name}: the density must be positive at its own samples, got log-density -inf")
    if log_p_x.shape[-1] != log_q_x.shape[-1]:
        raise ValueError(
            f"log_p_x and log_q_x: expected the same number of samples, got {tuple(log_p_x.shape)} "
            f"and {tuple(log_q_x.shape)}"
        )
    if log_p_y.shape[-1] != log_q_y.shape[-1]:
        raise ValueError(
            f"log_p_y and log_q_y: expected the same number of samples, got {tuple(log_p_y.shape)} "
            f"and {tuple(log_q_y.shape)}"
        )
    C.broadcast_batch(names, [t.shape[:-1] for t in tensors])
    term_p = softplus(log_q_x - log_p_x).mean(dim=-1, dtype=torch.float64)
    term_q = softplus(log_p_y - log_q_y).mean(dim=-1, dtype=torch.float64)
    return (math.log(2.0) - 0.5 * term_p - 0.5 * term_q).to(log_p_x.dtype)
