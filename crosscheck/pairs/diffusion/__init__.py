"""Agreement pairs of :mod:`reference.diffusion` and :mod:`accelerated.diffusion`, registered on import.

``strategies`` (betas, schedules as ``Twin("diffusion.Schedule", ...)``, positions, data), ``conditioning``
(which float32 and half-precision draws are well enough conditioned to compare), ``ddpm`` (the DDPM and
guidance pairs with their bad inputs) and ``ddim`` (the DDIM pairs with theirs).
"""

from . import ddim, ddpm

__all__ = ["ddim", "ddpm"]
