r"""Beta schedules and the float64 tables of :class:`Schedule`.

Part of :mod:`accelerated.diffusion` (PyTorch); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (the forward process with variances
beta_t, alpha_t = 1 - beta_t, alpha_bar_t their running product, and the posterior variance beta_tilde_t);
the linear schedule of Ho et al. (2020) and the cosine schedule of Nichol & Dhariwal (2021).
"""

from __future__ import annotations

import torch

import reference._args as A
import reference._args.diffusion as AD

from .. import _checks as C

__all__ = ["Schedule", "cosine_beta_schedule", "linear_beta_schedule"]

_F64 = torch.float64


# --------------------------------------------------------------------------- schedules


def linear_beta_schedule(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    r"""Linear variance schedule of Ho et al. (see :func:`reference.diffusion.linear_beta_schedule`).

    .. math::

        \beta_t = \beta_{\text{start}} + \frac{t - 1}{T - 1} (\beta_{\text{end}} - \beta_{\text{start}}),
        \qquad t = 1, \dots, T.

    Parameters
    ----------
    T : int
        Number of steps, >= 1.
    beta_start, beta_end : float
        Each in (0, 1); no rescaling for T != 1000.

    Returns
    -------
    (T,) Tensor
        float64 betas on the CPU (``Schedule(betas.to(device))`` for another device).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'; Ho, Jain, Abbeel, NeurIPS 2020,
    Section 4.

    Examples
    --------
    Three betas evenly spaced from 0.1 to 0.5 (the formula):

    >>> linear_beta_schedule(3, 0.1, 0.5).tolist()
    [0.1, 0.3, 0.5]
    """
    T = A.count("T", T)
    beta_start, beta_end = AD.open_unit("beta_start", beta_start), AD.open_unit("beta_end", beta_end)
    return torch.linspace(beta_start, beta_end, T, dtype=_F64)


def cosine_beta_schedule(T: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    r"""Cosine schedule of Nichol & Dhariwal (see :func:`reference.diffusion.cosine_beta_schedule`).

    .. math::

        \bar\alpha(t) = \frac{f(t)}{f(0)}, \quad f(t) = \cos^2\Bigl(\frac{t / T + s}{1 + s} \cdot \frac{\pi}{2}\Bigr),
        \qquad \beta_t = \min\Bigl(1 - \frac{\bar\alpha(t)}{\bar\alpha(t - 1)}, \beta_{\max}\Bigr).

    Parameters
    ----------
    T : int
        Number of steps, >= 1.
    s : float
        Offset >= 0.
    max_beta : float
        Clip in (0, 1).

    Returns
    -------
    (T,) Tensor
        float64 betas on the CPU.

    References
    ----------
    Nichol, Dhariwal, Improved Denoising Diffusion Probabilistic Models, ICML 2021, eq. (17).

    Examples
    --------
    The clip binds at t = T, where f(T) = 0 (the formula):

    >>> cosine_beta_schedule(1000)[-1].item()
    0.999
    """
    T, s, max_beta = A.count("T", T), A.nonnegative("s", s), AD.open_unit("max_beta", max_beta)
    steps = torch.arange(T + 1, dtype=_F64) / T
    f = torch.cos((steps + s) / (1.0 + s) * (torch.pi / 2.0)) ** 2
    alpha_bar = f / f[0]
    return torch.clamp(1.0 - alpha_bar[1:] / alpha_bar[:-1], max=max_beta)


_TABLES = (
    "betas",
    "alphas",
    "alpha_bars",
    "alpha_bars_prev",
    "one_minus_alpha_bars",
    "sqrt_alpha_bars",
    "sqrt_one_minus_alpha_bars",
    "beta_tilde",
    "log_beta_tilde_clipped",
    "posterior_mean_coef_x0",
    "posterior_mean_coef_xt",
    "sqrt_alphas",
    "sqrt_betas",
    "sqrt_beta_tilde",
    "eps_coef",
)


class Schedule:
    r"""The float64 tables of a DDPM forward process on the betas' device (see :class:`reference.diffusion.Schedule`).

    .. math::

        \alpha_t = 1 - \beta_t, \quad \bar\alpha_t = \prod_{s \le t} \alpha_s, \quad
        \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t} \beta_t, \quad
        \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}} \beta_t}{1 - \bar\alpha_t} x_0
                    + \frac{\sqrt{\alpha_t} (1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t} x_t.

    Attributes: the ``(T,)`` float64 tensors ``betas``, ``alphas``, ``alpha_bars``, ``alpha_bars_prev``
    (1 at position 0), ``one_minus_alpha_bars`` (-expm1(cumsum(log1p(-beta))), no cancellation),
    ``sqrt_alpha_bars``, ``sqrt_one_minus_alpha_bars``, ``beta_tilde`` (0 at position 0),
    ``log_beta_tilde_clipped`` (position 0 takes the position-1 value, log beta_1 if T = 1),
    ``posterior_mean_coef_x0``, ``posterior_mean_coef_xt``, ``sqrt_alphas``, ``sqrt_betas``,
    ``sqrt_beta_tilde`` and ``eps_coef`` ((1 - alpha_t) / sqrt(1 - alpha_bar_t), the eps coefficient of
    mu_theta); ``T`` and ``device``. :meth:`cast` gives a table in another dtype, cast once and cached.
    The tables are built once, in float64, whatever the dtype of ``betas`` (a float32 tensor is upcast
    first).

    Parameters
    ----------
    betas : (T,) Tensor
        Forward-process variances, each in the open interval (0, 1) (checked once, by a device assertion;
        skipped with value checks off).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'; Ho, Jain, Abbeel, NeurIPS 2020,
    eqs. (4), (6), (7).

    Examples
    --------
    betas (0.1, 0.2, 0.5) give alpha_bar (0.9, 0.72, 0.36), the running product of 1 - beta:

    >>> Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64)).alpha_bars.tolist()
    [0.9, 0.72, 0.36]
    """

    def __init__(self, betas: torch.Tensor) -> None:
        betas = C.as_float_tensor("betas", betas)
        if betas.ndim != 1 or betas.shape[0] == 0:
            raise ValueError(
                f"betas: expected a non-empty 1-D tensor (one beta per step), got shape {tuple(betas.shape)}"
            )
        betas = betas.detach().to(_F64).clone()
        if C.value_checks_active():
            low, high = torch.aminmax(betas)  # NaN propagates and fails both comparisons

            def detail() -> str:
                if bool(torch.isnan(betas).any()):
                    return f"betas: expected no NaN, got {int(torch.isnan(betas).sum())} NaN entries"
                return (
                    f"betas: expected every beta in the open interval (0, 1), got min {float(betas.min())!r} and "
                    f"max {float(betas.max())!r}"
                )

            C.require((low > 0) & (high < 1), "betas: expected every beta in the open interval (0, 1)", detail)
        alphas = 1.0 - betas
        alpha_bars = torch.cumprod(alphas, dim=0)
        one = torch.ones(1, dtype=_F64, device=betas.device)
        alpha_bars_prev = torch.cat((one, alpha_bars[:-1]))
        one_minus_alpha_bars = -torch.expm1(torch.cumsum(torch.log1p(-betas), dim=0))
        one_minus_alpha_bars_prev = torch.cat((torch.zeros_like(one), one_minus_alpha_bars[:-1]))
        beta_tilde = betas * one_minus_alpha_bars_prev / one_minus_alpha_bars
        clipped = torch.cat((beta_tilde[1:2], beta_tilde[1:])) if betas.shape[0] > 1 else betas
        self.betas = betas
        self.alphas = alphas
        self.alpha_bars = alpha_bars
        self.alpha_bars_prev = alpha_bars_prev
        self.one_minus_alpha_bars = one_minus_alpha_bars
        self.sqrt_alpha_bars = torch.sqrt(alpha_bars)
        self.sqrt_one_minus_alpha_bars = torch.sqrt(one_minus_alpha_bars)
        self.beta_tilde = beta_tilde
        self.log_beta_tilde_clipped = torch.log(clipped)
        self.posterior_mean_coef_x0 = torch.sqrt(alpha_bars_prev) * betas / one_minus_alpha_bars
        self.posterior_mean_coef_xt = torch.sqrt(alphas) * one_minus_alpha_bars_prev / one_minus_alpha_bars
        self.sqrt_alphas = torch.sqrt(alphas)
        self.sqrt_betas = torch.sqrt(betas)
        self.sqrt_beta_tilde = torch.sqrt(beta_tilde)
        self.eps_coef = betas / self.sqrt_one_minus_alpha_bars

    def cast(self, name: str, dtype: torch.dtype, ndim: int = 1) -> torch.Tensor:
        """The float64 table ``name`` cast to ``dtype``, cast once and cached (the per-step functions gather from it).

        Casting the table and then gathering gives the same numbers as gathering and then casting, so the
        float64 tables stay the only source; only the per-call cast goes. With ``ndim`` > 1 the table
        is a (T, 1, ..., 1) view, so that the rows gathered at positions t of shape (n,) broadcast over
        data of that many dimensions without a reshape per call.
        """
        key = (name, dtype, ndim)
        table = self._cast_cache.get(key)
        if table is None:
            source = getattr(self, name)
            table = source if source.dtype == dtype else source.to(dtype)
            table = self._cast_cache[key] = table.view((table.shape[0],) + (1,) * (ndim - 1))
        return table

    @property
    def _cast_cache(self) -> dict:
        cache = self.__dict__.get("_cast_tables")
        if cache is None:
            cache = self.__dict__["_cast_tables"] = {}
        return cache

    @property
    def T(self) -> int:
        """Number of diffusion steps."""
        return int(self.betas.shape[0])

    @property
    def device(self) -> torch.device:
        return self.betas.device

    def to(self, device: torch.device | str) -> Schedule:
        """The same tables on another device (copied, not recomputed, so they stay bit-identical)."""
        moved = object.__new__(Schedule)
        for name in _TABLES:
            setattr(moved, name, getattr(self, name).to(device))
        return moved

    def __len__(self) -> int:
        return self.T

    def __repr__(self) -> str:
        return f"Schedule(T={self.T}, device={self.device})"
