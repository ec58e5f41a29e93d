r"""The truncation trick: BigGAN's truncated normal latents and StyleGAN's pull towards the mean latent.

Slides: Isachenko, DGM Lecture 7, 'Truncation trick' (BigGAN truncated normal, StyleGAN psi).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ._common import _check_latents, _check_truncation

__all__ = ["truncate_latent", "truncated_normal"]


def truncated_normal(
    psi: float,
    *,
    shape: tuple[int, ...] | None = None,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    r"""BigGAN truncation trick: standard normal latents truncated to [-psi, psi], by the inverse CDF.

    .. math::

        p(z \mid \psi) = \frac{\mathcal N(z \mid 0, 1)\,[\,|z| \le \psi\,]}{\Phi(\psi) - \Phi(-\psi)},
        \qquad
        z = \Phi^{-1}\bigl(\Phi(-\psi) + u\,(\Phi(\psi) - \Phi(-\psi))\bigr), \quad u \sim U[0, 1],

    elementwise. The slide writes the normaliser as a one-sided integral up to psi; BigGAN
    resamples every element that falls outside [-psi, psi], i.e. truncates on both sides, and that
    is what is implemented. The inverse CDF gives exactly the law of that rejection resampling (the
    law of z given |z| <= psi) from one uniform per element, deterministically.

    Parameters
    ----------
    psi : float
        Truncation threshold, finite and > 0.
    shape : tuple of int, optional
        Output shape; required with ``rng``; with ``noise`` it must equal ``noise.shape`` if given.
    noise : (...) array_like, optional
        Uniform variates u in [0, 1], one per output element. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws u = ``rng.random(shape)`` (float64).

    Returns
    -------
    (...) ndarray
        Truncated standard normal samples in [-psi, psi].

    Notes
    -----
    For u > 1/2 the mirror image :math:`z = -\Phi^{-1}(\Phi(-\psi) + (1 - u)(\Phi(\psi) - \Phi(-\psi)))`
    is used, so both tails keep full relative precision; the mass :math:`\Phi(\psi) - \Phi(-\psi)` is
    formed as :math:`\operatorname{erf}(\psi/\sqrt2)`. The result is clamped to [-psi, psi], which
    changes only values pushed past the bound by rounding (by at most a few ulp, or from -inf to -psi
    when :math:`\Phi(-\psi)` underflows, psi > 38, and u = 0).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Truncation trick' (BigGAN: truncated normal sampling);
    Brock, Donahue, Simonyan, Large Scale GAN Training for High Fidelity Natural Image Synthesis,
    ICLR 2019, Section 3.1.

    Examples
    --------
    The quantiles at u = 0, 1/2, 1 are -psi, 0 and psi (the truncated law's support and symmetry):

    >>> truncated_normal(1.5, noise=np.array([0.0, 0.5, 1.0])).round(12).tolist()
    [-1.5, 0.0, 1.5]
    """
    psi, u = _check_truncation(psi, shape, noise, rng)
    Phi_minus_psi = special.ndtr(-psi)
    mass = special.erf(psi / np.sqrt(2.0))  # Phi(psi) - Phi(-psi)
    lower = special.ndtri(Phi_minus_psi + u * mass)
    upper = -special.ndtri(Phi_minus_psi + (1.0 - u) * mass)
    z = np.where(u <= 0.5, lower, upper)
    return np.clip(z, -psi, psi)


def truncate_latent(z: np.ndarray, z_mean: np.ndarray, psi: float) -> np.ndarray:
    r"""StyleGAN truncation: pull latents towards their mean by the factor psi.

    .. math::

        z' = \hat z + \psi\,(z - \hat z), \qquad \hat z = \mathbb{E}_z\, z.

    psi = 1 leaves z unchanged, psi = 0 maps every latent to the mean; psi = 0.7 is StyleGAN's choice.

    Parameters
    ----------
    z : (..., d) array_like
        Latents (StyleGAN applies this to its intermediate w), finite.
    z_mean : (..., d) array_like
        Their mean z-hat; batch axes broadcast with ``z``'s (typically shape (d,)).
    psi : float
        The truncation factor, a finite real number (usually in [0, 1]).

    Returns
    -------
    (..., d) ndarray
        The truncated latents, batch shape broadcast.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Truncation trick' (StyleGAN);
    Karras, Laine, Aila, A Style-Based Generator Architecture for Generative Adversarial Networks,
    CVPR 2019, Section 4 (truncation trick in W).

    Examples
    --------
    Half way from z = 3 to the mean 1 is 2 (the formula at psi = 1/2):

    >>> truncate_latent(np.array([[3.0]]), np.array([1.0]), 0.5).tolist()
    [[2.0]]
    """
    z, z_hat, psi = _check_latents(z, z_mean, psi)
    return z_hat + psi * (z - z_hat)
