r"""Beta schedules and the float64 tables of :class:`Schedule`.

Part of :mod:`reference.diffusion` (NumPy, float64); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (the forward process with variances
beta_t, alpha_t = 1 - beta_t, alpha_bar_t their running product, and the posterior variance beta_tilde_t);
the linear schedule of Ho et al. (2020) and the cosine schedule of Nichol & Dhariwal (2021).
"""

from __future__ import annotations

import numpy as np

import reference._args as A
import reference._args.diffusion as AD

from .. import _checks as C

__all__ = ["Schedule", "cosine_beta_schedule", "linear_beta_schedule"]


# --------------------------------------------------------------------------- schedules


def linear_beta_schedule(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    r"""Linear variance schedule of Ho et al.: T betas evenly spaced from ``beta_start`` to ``beta_end``.

    .. math::

        \beta_t = \beta_{\text{start}} + \frac{t - 1}{T - 1} (\beta_{\text{end}} - \beta_{\text{start}}),
        \qquad t = 1, \dots, T.

    The defaults are the paper's values for T = 1000. No rescaling for other T is applied (some code
    bases multiply both ends by 1000 / T); pass the ends you want.

    Parameters
    ----------
    T : int
        Number of diffusion steps, >= 1 (T = 1 gives ``[beta_start]``).
    beta_start, beta_end : float
        First and last beta, each in (0, 1).

    Returns
    -------
    (T,) ndarray
        float64 betas; position t holds the slide's beta_{t+1}.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (the forward process with
    variances beta_t); Ho, Jain, Abbeel, Denoising Diffusion Probabilistic Models, NeurIPS 2020, Section 4.

    Examples
    --------
    Three betas evenly spaced from 0.1 to 0.5 (the formula):

    >>> linear_beta_schedule(3, 0.1, 0.5).tolist()
    [0.1, 0.3, 0.5]
    """
    T = A.count("T", T)
    beta_start, beta_end = AD.open_unit("beta_start", beta_start), AD.open_unit("beta_end", beta_end)
    return np.linspace(beta_start, beta_end, T, dtype=np.float64)


def cosine_beta_schedule(T: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    r"""Cosine schedule of Nichol & Dhariwal: betas from a cosine-shaped alpha_bar, clipped at ``max_beta``.

    .. math::

        \bar\alpha(t) = \frac{f(t)}{f(0)}, \quad f(t) = \cos^2\Bigl(\frac{t / T + s}{1 + s} \cdot \frac{\pi}{2}\Bigr),
        \qquad \beta_t = \min\Bigl(1 - \frac{\bar\alpha(t)}{\bar\alpha(t - 1)}, \beta_{\max}\Bigr),
        \quad t = 1, \dots, T.

    The clip matters only near t = T, where f vanishes (beta_T = 1 before clipping); the offset ``s``
    keeps beta_1 from being too small near t = 0.

    Parameters
    ----------
    T : int
        Number of diffusion steps, >= 1.
    s : float
        Offset, finite and >= 0 (the paper's 0.008).
    max_beta : float
        Upper clip in (0, 1) (the paper's 0.999).

    Returns
    -------
    (T,) ndarray
        float64 betas in (0, max_beta].

    References
    ----------
    Nichol, Dhariwal, Improved Denoising Diffusion Probabilistic Models, ICML 2021, eq. (17). Beyond the slides.

    Examples
    --------
    The clip binds at t = T, where f(T) = 0 (the formula):

    >>> cosine_beta_schedule(1000)[-1].item()
    0.999
    """
    T, s, max_beta = A.count("T", T), A.nonnegative("s", s), AD.open_unit("max_beta", max_beta)
    steps = np.arange(T + 1, dtype=np.float64) / T
    f = np.cos((steps + s) / (1.0 + s) * (np.pi / 2.0)) ** 2
    alpha_bar = f / f[0]
    return np.minimum(1.0 - alpha_bar[1:] / alpha_bar[:-1], max_beta)


def _check_betas(betas: object) -> np.ndarray:
    betas = C.as_float64("betas", betas)
    if betas.ndim != 1 or betas.shape[0] == 0:
        raise ValueError(f"betas: expected a non-empty 1-D array (one beta per step), got shape {betas.shape}")
    C.check_not_nan("betas", betas)
    if np.any(betas <= 0.0) or np.any(betas >= 1.0):
        raise ValueError(
            f"betas: expected every beta in the open interval (0, 1), got min {np.min(betas)!r} and "
            f"max {np.max(betas)!r}"
        )
    return betas


class Schedule:
    r"""The float64 tables of a DDPM forward process, built from any betas in (0, 1).

    .. math::

        \alpha_t = 1 - \beta_t, \qquad \bar\alpha_t = \prod_{s=1}^t \alpha_s, \qquad
        \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t} \beta_t,

        \tilde\mu_t(x_t, x_0) = \frac{\sqrt{\bar\alpha_{t-1}} \beta_t}{1 - \bar\alpha_t} x_0
                              + \frac{\sqrt{\alpha_t} (1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t} x_t.

    Attributes (all ``(T,)`` float64 arrays, read-only, indexed by position t = slide step - 1):
    ``betas``, ``alphas``, ``alpha_bars``, ``alpha_bars_prev`` (1 at position 0),
    ``one_minus_alpha_bars`` (evaluated as -expm1(sum log1p(-beta)), exact to rounding even for tiny
    betas, where 1 - alpha_bar would cancel), ``sqrt_alpha_bars``, ``sqrt_one_minus_alpha_bars``,
    ``beta_tilde`` (exactly 0 at position 0, where q(x_0 | x_1, x_0) is a point mass),
    ``log_beta_tilde_clipped``, ``posterior_mean_coef_x0`` and ``posterior_mean_coef_xt`` (the two
    coefficients of mu_tilde above), ``sqrt_alphas``, ``sqrt_betas``, ``sqrt_beta_tilde`` and
    ``eps_coef`` = (1 - alpha_t) / sqrt(1 - alpha_bar_t), the eps coefficient of mu_theta. ``T`` is the
    number of steps.

    ``log_beta_tilde_clipped`` is log beta_tilde with its position-0 entry (log 0 = -inf) replaced by
    the position-1 value, log beta_tilde at the slide's step 2, as in the code of Ho et al. and Nichol &
    Dhariwal; for T = 1, where there is no position 1, it is log beta_1. It is only used where a finite
    log-variance is needed at position 0 (learned-variance interpolation, NLL bounds); the sampler uses
    beta_tilde itself, so its last step adds no noise.

    Parameters
    ----------
    betas : (T,) array_like
        Forward-process variances, each in the open interval (0, 1).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (q(x_{t-1} | x_t, x_0));
    Ho, Jain, Abbeel, NeurIPS 2020, eqs. (4), (6), (7).

    Examples
    --------
    betas (0.1, 0.2, 0.5) give alpha_bar (0.9, 0.72, 0.36), the running product of 1 - beta:

    >>> Schedule(np.array([0.1, 0.2, 0.5])).alpha_bars.tolist()
    [0.9, 0.72, 0.36]
    """

    def __init__(self, betas: np.ndarray) -> None:
        betas = _check_betas(betas).copy()
        alphas = 1.0 - betas
        alpha_bars = np.cumprod(alphas)
        alpha_bars_prev = np.concatenate(([1.0], alpha_bars[:-1]))
        # 1 - alpha_bar without cancellation (1 - cumprod loses digits when the betas are tiny).
        one_minus_alpha_bars = -np.expm1(np.cumsum(np.log1p(-betas)))
        one_minus_alpha_bars_prev = np.concatenate(([0.0], one_minus_alpha_bars[:-1]))
        beta_tilde = betas * one_minus_alpha_bars_prev / one_minus_alpha_bars
        clipped = np.concatenate((beta_tilde[1:2], beta_tilde[1:])) if betas.shape[0] > 1 else betas
        self.betas = betas
        self.alphas = alphas
        self.alpha_bars = alpha_bars
        self.alpha_bars_prev = alpha_bars_prev
        self.one_minus_alpha_bars = one_minus_alpha_bars
        self.sqrt_alpha_bars = np.sqrt(alpha_bars)
        self.sqrt_one_minus_alpha_bars = np.sqrt(one_minus_alpha_bars)
        self.beta_tilde = beta_tilde
        self.log_beta_tilde_clipped = np.log(clipped)
        self.posterior_mean_coef_x0 = np.sqrt(alpha_bars_prev) * betas / one_minus_alpha_bars
        self.posterior_mean_coef_xt = np.sqrt(alphas) * one_minus_alpha_bars_prev / one_minus_alpha_bars
        self.sqrt_alphas = np.sqrt(alphas)
        self.sqrt_betas = np.sqrt(betas)
        self.sqrt_beta_tilde = np.sqrt(beta_tilde)
        self.eps_coef = betas / self.sqrt_one_minus_alpha_bars
        for table in vars(self).values():
            table.setflags(write=False)

    @property
    def T(self) -> int:
        """Number of diffusion steps."""
        return int(self.betas.shape[0])

    def __len__(self) -> int:
        return self.T

    def __repr__(self) -> str:
        return f"Schedule(T={self.T}, beta_1={self.betas[0]:.3g}, beta_T={self.betas[-1]:.3g})"
