r"""W_2 between Gaussians in closed form (the Bures metric), the formula behind FID.

Slides: Isachenko, DGM Lecture 7, slide 'Wasserstein metric' (the theorem on W_2 between Gaussians)
and slide 'Frechet Inception Distance'.
"""

from __future__ import annotations

import numpy as np

from reference._args import flag

from .. import _checks as C

__all__ = ["gaussian_w2"]

# Eigenvalues of Sigma_1^{1/2} Sigma_2 Sigma_1^{1/2} (or of a covariance) below -PSD_RTOL * (largest
# eigenvalue) mean a covariance that is not positive semi-definite: a ValueError. Negative values above
# it are rounding of a PSD input and are clamped to 0 (see gaussian_w2).
PSD_RTOL = 1e-6


def _check_gaussian_pair(
    mu1: object, cov1: object, mu2: object, cov2: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Means (..., d) and symmetric covariances (..., d, d) of two Gaussians, checked, as float64,
    broadcast to their common batch: finite means and covariances, one dimension d for all four."""
    mu1, mu2 = C.as_float64("mu1", mu1), C.as_float64("mu2", mu2)
    cov1, cov2 = C.as_float64("cov1", cov1), C.as_float64("cov2", cov2)
    for name, mu in (("mu1", mu1), ("mu2", mu2)):
        C.check_ndim(name, mu, 1)
        C.check_finite(name, mu)
    for name, cov in (("cov1", cov1), ("cov2", cov2)):
        C.check_square(name, cov)
        C.check_finite(name, cov)
        C.check_symmetric(name, cov)
    d = mu1.shape[-1]
    for name, arr in (("mu2", mu2), ("cov1", cov1), ("cov2", cov2)):
        if arr.shape[-1] != d:
            raise ValueError(f"{name}: expected dimension d = {d} (from mu1), got shape {arr.shape}")
    batch = C.broadcast_batch(
        ("mu1", "cov1", "mu2", "cov2"), (mu1.shape[:-1], cov1.shape[:-2], mu2.shape[:-1], cov2.shape[:-2])
    )
    mu1, mu2 = np.broadcast_to(mu1, (*batch, d)), np.broadcast_to(mu2, (*batch, d))
    cov1, cov2 = np.broadcast_to(cov1, (*batch, d, d)), np.broadcast_to(cov2, (*batch, d, d))
    return mu1, cov1, mu2, cov2


def _psd_violation(name: str, lam: np.ndarray) -> None:
    """ValueError if eigenvalues lam show a matrix that is clearly not positive semi-definite."""
    top = max(float(np.max(lam)), 0.0)
    if float(np.min(lam)) < -PSD_RTOL * top or (top == 0.0 and float(np.min(lam)) < 0.0):
        raise ValueError(
            f"{name}: expected a positive semi-definite covariance, got an eigenvalue {float(np.min(lam)):.3g} "
            f"below -{PSD_RTOL:g} x the largest ({top:.3g})"
        )


def _symmetric_sqrt_psd(name: str, Sigma: np.ndarray) -> np.ndarray:
    """Symmetric PSD square root V diag(sqrt(max(lambda, 0))) V^T from eigh."""
    lam, V = np.linalg.eigh(Sigma)
    _psd_violation(name, lam)
    return (V * np.sqrt(np.maximum(lam, 0.0))) @ V.T


def _bures_cross_term(Sigma_pi: np.ndarray, Sigma_p: np.ndarray) -> float:
    r"""tr (Sigma_pi^{1/2} Sigma_p Sigma_pi^{1/2})^{1/2} for one pair of d x d covariances.

    With :math:`\Sigma_\pi = L L^\top`, :math:`L^\top \Sigma_p L` is similar to
    :math:`\Sigma_\pi \Sigma_p` and to :math:`\Sigma_\pi^{1/2} \Sigma_p \Sigma_\pi^{1/2}`: the same
    eigenvalues, but a symmetric matrix, so ``eigvalsh`` applies. The trace is symmetric in the two
    covariances, so a singular Sigma_pi falls back to the Cholesky factor of Sigma_p; when both are
    singular, to the eigh square root R of Sigma_pi and the eigenvalues of R Sigma_p R.
    """
    try:
        L = np.linalg.cholesky(Sigma_pi)
        M, other = L.T @ Sigma_p @ L, "cov2"
    except np.linalg.LinAlgError:
        try:
            L = np.linalg.cholesky(Sigma_p)
            M, other = L.T @ Sigma_pi @ L, "cov1"
        except np.linalg.LinAlgError:
            R = _symmetric_sqrt_psd("cov1", Sigma_pi)
            _psd_violation("cov2", np.linalg.eigvalsh(Sigma_p))
            M, other = R @ Sigma_p @ R, "cov2"
    lam = np.linalg.eigvalsh(M)  # reads the lower triangle: M is symmetric up to rounding
    _psd_violation(other, lam)
    return float(np.sum(np.sqrt(np.maximum(lam, 0.0))))


def gaussian_w2(
    mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray, *, squared: bool = False
) -> np.ndarray:
    r"""W_2 between Gaussians N(mu1, cov1) and N(mu2, cov2) in closed form (the Bures metric), batched.

    .. math::

        W_2^2(\pi, p) = \|\mu_\pi - \mu_p\|^2 + \operatorname{tr}\Big[\Sigma_\pi + \Sigma_p
        - 2 \big(\Sigma_\pi^{1/2} \Sigma_p \Sigma_\pi^{1/2}\big)^{1/2}\Big].

    The trace of the matrix square root is :math:`\sum_k \sqrt{\lambda_k}` over the eigenvalues of the
    symmetric matrix :math:`L^\top \Sigma_p L`, :math:`\Sigma_\pi = L L^\top` (Cholesky): similar to
    :math:`\Sigma_\pi \Sigma_p`, so the same eigenvalues, found by a *symmetric* eigensolver. Never
    the eigenvalues of the non-symmetric product, never ``scipy.linalg.sqrtm``.

    Parameters
    ----------
    mu1, mu2 : (..., d) array_like
        Means.
    cov1, cov2 : (..., d, d) array_like
        Symmetric positive semi-definite covariances. Batch axes of all four broadcast.
    squared : bool
        Return :math:`W_2^2` (FID is this, in feature space) instead of :math:`W_2`.

    Returns
    -------
    (...) ndarray
        W_2, or W_2^2 with ``squared=True``.

    Notes
    -----
    Fallbacks, in order: if Cholesky of cov1 fails (singular, e.g. fewer samples than dimensions), the
    roles are swapped (the trace term is symmetric) and cov2 is factored; if both fail, the symmetric
    PSD square root :math:`R = V \operatorname{diag}(\sqrt{\max(\lambda, 0)}) V^\top` of cov1 (eigh)
    and the eigenvalues of :math:`R \Sigma_p R` are used.

    Guards: eigenvalues in :math:`[-10^{-6}\lambda_{\max}, 0)` are rounding of a PSD input and are
    clamped to 0 before the square root (below that: ValueError, not PSD). A computed eigenvalue
    within :math:`\delta` of its exact value changes its square root by at most :math:`\sqrt{\delta}`,
    clamped or not; for float64 covariances :math:`\delta \approx d \cdot 10^{-16} \lambda_{\max}`.
    Near :math:`W_2 = 0` the result is a difference of nearly equal traces and its error is absolute:
    the small eigenvalues of :math:`L^\top \Sigma_p L` carry an error of about
    :math:`\epsilon_{\text{mach}} \lambda_{\max}(L^\top \Sigma_p L)`, which their square roots turn
    into about :math:`d\, \epsilon_{\text{mach}}\, \kappa\, \lambda_{\max}` on :math:`W_2^2`
    (:math:`\kappa` the condition number of the covariances; 1e-12 for d = 4, kappa = 1e3, lambda_max = 1).
    The final :math:`W_2^2` is clamped at 0 (rounding can make it slightly negative for identical
    inputs); the clamp changes the result only where it would be negative, by less than that error.
    With ``squared=False`` the root of that error is returned: for identical Gaussians W_2 is not 0
    but up to :math:`\sqrt{d\, \epsilon_{\text{mach}}\, \kappa\, \lambda_{\max}}` (1.5e-4 for d = 1,
    kappa = 1e8, lambda_max = 1; measured 4.8e-7 and 8.5e-7 at kappa = 1e8): a W_2 below that bound is
    indistinguishable from 0; compare with ``squared=True`` near 0.

    A result that overflows float64 from finite inputs (means or covariances around 1e154 and beyond,
    whose squares are beyond the largest float) is a ``ValueError`` naming ``mu1, cov1, mu2, cov2``
    (:func:`reference._checks.check_result`), never inf or NaN.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Wasserstein metric' (theorem); Isachenko, DGM Lecture 7, slide
    'Frechet Inception Distance'; Dowson and Landau, The Frechet distance between multivariate normal
    distributions, J. Multivariate Anal. 12 (1982); Bhatia, Jain, Lim, On the Bures-Wasserstein
    distance between positive definite matrices, Expo. Math. 37 (2019).

    Examples
    --------
    W_2^2 of N(0, 1) and N(3, 4) is (0 - 3)^2 + (1 - 2)^2 = 10 (closed form):

    >>> float(gaussian_w2(np.zeros(1), np.eye(1), np.full(1, 3.0), 4 * np.eye(1), squared=True))
    10.0
    """
    squared = flag("squared", squared)
    mu1, cov1, mu2, cov2 = _check_gaussian_pair(mu1, cov1, mu2, cov2)
    w2_squared = np.empty(mu1.shape[:-1])
    for k in np.ndindex(*w2_squared.shape):
        Sigma_pi, Sigma_p = cov1[k], cov2[k]
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused by check_result below
            mean_term = float(np.sum((mu1[k] - mu2[k]) ** 2))
            trace_term = np.trace(Sigma_pi) + np.trace(Sigma_p) - 2.0 * _bures_cross_term(Sigma_pi, Sigma_p)
            w2_squared[k] = max(mean_term + trace_term, 0.0)
    C.check_result(w2_squared, [("mu1", mu1), ("cov1", cov1), ("mu2", mu2), ("cov2", cov2)])
    return w2_squared if squared else np.sqrt(w2_squared)
