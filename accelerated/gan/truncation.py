r"""The truncation trick in PyTorch: BigGAN's truncated normal latents and StyleGAN's psi.

Same formulas, names and parameters as :mod:`reference.gan.truncation` (Isachenko, DGM Lecture 7,
'Truncation trick').
"""

from __future__ import annotations

import math

import torch

from ._common import _check_latents, _check_truncation

__all__ = ["truncate_latent", "truncated_normal"]


def truncated_normal(
    psi: float,
    *,
    shape: tuple[int, ...] | None = None,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""BigGAN truncation trick: N(0, 1) truncated to [-psi, psi], by the inverse CDF of uniforms.

    .. math::

        z = \Phi^{-1}\bigl(\Phi(-\psi) + u\,(\Phi(\psi) - \Phi(-\psi))\bigr)
        \quad (u \le 1/2), \qquad
        z = -\Phi^{-1}\bigl(\Phi(-\psi) + (1 - u)(\Phi(\psi) - \Phi(-\psi))\bigr) \quad (u > 1/2),

    clamped to [-psi, psi] (rounding only). Two-sided truncation, equal in law to BigGAN's
    resampling of out-of-range elements; see :func:`reference.gan.truncated_normal`.

    Parameters
    ----------
    psi : float
        Truncation threshold, finite and > 0.
    shape : tuple of int, optional
        Output shape; required with ``rng``; must equal ``noise.shape`` if given with ``noise``.
    noise : (...) Tensor, optional
        Uniforms u in [0, 1]. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws u with ``torch.rand(shape)`` on the generator's device in ``torch.get_default_dtype()``:
        the generator chooses where the latents live (nothing is drawn elsewhere and copied).

    Returns
    -------
    (...) Tensor
        Samples in [-psi, psi], dtype and device of the uniforms.

    Notes
    -----
    The inverse CDF (``torch.special.ndtri``) is evaluated in float64 and the samples are cast to the
    dtype of ``noise`` (of the drawn uniforms with ``rng``): a float32 evaluation is off by up to 1.3e-6
    (measured; 3 ulp in the tails), the float64 one only by the final rounding.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Truncation trick'; Brock, Donahue, Simonyan, Large Scale GAN
    Training for High Fidelity Natural Image Synthesis, ICLR 2019, Section 3.1.

    Examples
    --------
    The quantiles at u = 0, 1/2, 1 are -psi, 0 and psi (the truncated law's support and symmetry):

    >>> [round(v, 6) for v in truncated_normal(1.5, noise=torch.tensor([0.0, 0.5, 1.0])).tolist()]
    [-1.5, 0.0, 1.5]
    """
    psi, u = _check_truncation(psi, shape, noise, rng)
    Phi_minus_psi = 0.5 * math.erfc(psi / math.sqrt(2.0))  # Phi(-psi), exact in the tail
    mass = math.erf(psi / math.sqrt(2.0))  # Phi(psi) - Phi(-psi)
    u64 = u.to(torch.float64)
    lower = torch.special.ndtri(Phi_minus_psi + u64 * mass)
    upper = -torch.special.ndtri(Phi_minus_psi + (1.0 - u64) * mass)
    z = torch.where(u64 <= 0.5, lower, upper).clamp(-psi, psi)
    return z.to(u.dtype)


def truncate_latent(z: torch.Tensor, z_mean: torch.Tensor, psi: float) -> torch.Tensor:
    r"""StyleGAN truncation z' = z_mean + psi (z - z_mean).

    .. math::

        z' = \hat z + \psi\,(z - \hat z), \qquad \hat z = \mathbb{E}_z\, z.

    Parameters
    ----------
    z : (..., d) Tensor
        Latents, finite.
    z_mean : (..., d) Tensor
        Their mean; same dtype and device; batch axes broadcast with ``z``'s.
    psi : float
        Truncation factor, finite.

    Returns
    -------
    (..., d) Tensor
        Truncated latents.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Truncation trick'; Karras, Laine, Aila, A Style-Based Generator
    Architecture for Generative Adversarial Networks, CVPR 2019, Section 4.

    Examples
    --------
    Half way from z = 3 to the mean 1 is 2 (the formula at psi = 1/2):

    >>> truncate_latent(torch.tensor([[3.0]]), torch.tensor([1.0]), 0.5).tolist()
    [[2.0]]
    """
    z, z_hat, psi = _check_latents(z, z_mean, psi)
    return z_hat + psi * (z - z_hat)
