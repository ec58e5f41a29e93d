"""Shapes of the two Gaussians of ``kl_gaussian``, checked alike on both sides (pure Python).

Takes shapes (tuples, or ``torch.Size``), raises the ``ValueError`` that names the argument, and
returns the sizes read from them; broadcasting and the array checks (finite, positive definite) stay
on each side.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["gaussian_pair_dim"]


def gaussian_pair_dim(mu_p: Sequence[int], cov_p: Sequence[int], mu_q: Sequence[int], cov_q: Sequence[int]) -> int:
    """d of means (..., d) and square covariances (..., d, d), d read from ``mu_p``.

    >>> gaussian_pair_dim((2,), (5, 2, 2), (2,), (2, 2))
    2
    """
    for name, shape in (("mu_p", mu_p), ("mu_q", mu_q)):
        if len(shape) < 1:
            raise ValueError(f"{name}: expected at least 1 dimension(s), got shape {tuple(shape)}")
    for name, shape in (("cov_p", cov_p), ("cov_q", cov_q)):
        if len(shape) < 2 or shape[-1] != shape[-2]:
            raise ValueError(f"{name}: expected square matrices of shape (..., d, d), got shape {tuple(shape)}")
    d = mu_p[-1]
    for name, shape in (("mu_q", mu_q), ("cov_p", cov_p), ("cov_q", cov_q)):
        if shape[-1] != d:
            raise ValueError(f"{name}: expected dimension d = {d} (from mu_p), got shape {tuple(shape)}")
    return d
