r"""Denoising diffusion (DDPM): schedules, forward process, posterior, ELBO terms, ancestral sampling, guidance.

Slides implemented
------------------
* Isachenko, Deep Generative Models, Lecture 13: recap slides 'ELBO of gaussian diffusion model'
  (the ELBO, q(x_{t-1} | x_t, x_0) = N(mu_tilde_t, beta_tilde_t I), L_t as a Gaussian KL),
  'Reparametrization' (mu_theta from eps_theta, the weight of ||eps - eps_theta||^2), 'Simplified
  objective' (L_simple), 'Training' and 'Sampling' (Ho et al. Algorithms 1 and 2), and
  'DDPM vs NCSN' (grad log q(x_t | x_0) = -eps / sqrt(1 - alpha_bar_t), the score reparametrisation).
* Isachenko, Deep Generative Models, Lecture 14: recap 'DDPM vs NCSN', 'Classifier guidance' (the
  mean shift mu + sigma^2 g and the corrected eps_hat = eps - gamma sqrt(1 - alpha_bar) grad log p(y | x_t)),
  'Classifier-free guidance' (eps_hat = gamma eps(x_t, y) + (1 - gamma) eps(x_t)).

Conventions
-----------
* **Time indices are positions 0..T-1 into the schedule tables.** Position ``t`` holds the slide's step
  ``t + 1``: ``alpha_bars[t]`` is the slide's :math:`\bar\alpha_{t+1} = \prod_{s \le t+1} \alpha_s`,
  ``alpha_bars_prev[t]`` is :math:`\bar\alpha_t`, and the value before the first step is 1
  (``alpha_bars_prev[0] = 1``), as in the DDPM code bases of Ho et al. and Nichol & Dhariwal. Position 0
  is the last reverse step (x_1 -> x_0 in the slide's numbering).
* **Tables are float64** (built once by :class:`Schedule`); the accelerated side builds the same float64
  tables and casts a gathered coefficient to the data's dtype where it is used.
* **Batches.** ``t`` is an integer array with one position per batch element, shape ``(n,)`` for data of
  shape ``(n, ...)`` (any number of feature axes), or shape ``()`` for one position shared by the batch.
  A coefficient gathered at ``t`` is reshaped to ``t.shape + (1,) * (x.ndim - t.ndim)`` and broadcast over
  the remaining axes.
* **Norms and KLs are sums over the feature axes** (the slide's :math:`\|\cdot\|^2`; the KL of the joint
  Gaussian), one value per batch element, in nats. The common code bases average over features
  (``mean_flat``) and report bits: divide by the number of features and by log 2 to compare.
* **Guidance scale.** ``scale`` is the slide's gamma in all three guidance functions; see
  :func:`classifier_free_guidance` for the w = gamma - 1 convention of Ho & Salimans.
* **Randomness** only through ``noise=`` (pre-drawn standard normals) or ``rng=`` (a
  ``numpy.random.Generator``), exactly one of them.

Slide typos. L14 'Classifier guidance' writes the shifted mean as mu + sigma (.) g and completes the
square with it; the square completes with mu + sigma^2 g (the next slide's algorithm uses
mu + beta_tilde g, which is right). :func:`classifier_guided_mean` implements mu + gamma sigma^2 g.

One-sided names: none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from . import _checks as C

__all__ = [
    "GaussianEps",
    "Posterior",
    "Schedule",
    "classifier_free_guidance",
    "classifier_guided_eps",
    "classifier_guided_mean",
    "cosine_beta_schedule",
    "ddpm_sample",
    "ddpm_step",
    "elbo_weight",
    "eps_to_score",
    "gaussian_kl",
    "l_simple",
    "l_t",
    "linear_beta_schedule",
    "p_mean_from_eps",
    "predict_eps_from_v",
    "predict_eps_from_x0",
    "predict_x0_from_eps",
    "predict_x0_from_v",
    "prior_kl",
    "q_posterior",
    "q_sample",
    "q_score",
    "q_step",
    "score_to_eps",
    "velocity",
    "weighted_dsm_loss",
]


# --------------------------------------------------------------------------- input helpers


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected a positive int, got {C.describe(value)}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


def _open_unit(name: str, value: object) -> float:
    value = C.check_real_scalar(name, value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name}: expected a number in the open interval (0, 1), got {value!r}")
    return value


def _betas(betas: object) -> np.ndarray:
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


def _schedule(schedule: object) -> Schedule:
    if not isinstance(schedule, Schedule):
        raise TypeError(
            f"schedule: expected a reference.diffusion.Schedule (build it with Schedule(betas)), "
            f"got {C.describe(schedule)}"
        )
    return schedule


def _data(name: str, x: object, min_ndim: int = 0) -> np.ndarray:
    x = C.as_float64(name, x)
    C.check_ndim(name, x, min_ndim)
    C.check_finite(name, x)
    return x


def _same_shape(names: tuple[str, ...], arrays: tuple[np.ndarray, ...]) -> None:
    if len({a.shape for a in arrays}) > 1:
        got = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
        raise ValueError(f"{', '.join(names)}: expected arrays of one shape, got {got}")


def _positions(t: object, schedule: Schedule, x: np.ndarray | None = None, x_name: str = "x") -> np.ndarray:
    """Integer positions 0..T-1, shape () or (n,) with n = x.shape[0]."""
    t = C.as_int_array("t", t)
    if t.ndim > 1:
        raise ValueError(
            f"t: expected integer positions of shape () or (n,) (one per batch element), got shape {t.shape}"
        )
    if x is not None and t.ndim == 1 and (x.ndim == 0 or x.shape[0] != t.shape[0]):
        raise ValueError(
            f"t, {x_name}: expected one position per batch element (t of shape (n,) and {x_name} of shape "
            f"(n, ...)), got t {t.shape} and {x_name} {x.shape}"
        )
    T = schedule.T
    if t.size and (np.min(t) < 0 or np.max(t) >= T):
        raise ValueError(
            f"t: expected integer positions in 0..{T - 1} (position t is the slide's step t + 1; T = {T}), "
            f"got min {int(np.min(t))} and max {int(np.max(t))}"
        )
    return t


def _at(table: np.ndarray, t: np.ndarray, ndim: int) -> np.ndarray:
    """table[t], reshaped to t.shape + (1,) * (ndim - t.ndim) so that it broadcasts over feature axes."""
    return table[t].reshape(t.shape + (1,) * max(ndim - t.ndim, 0))


def _noise(noise: object, rng: object, shape: tuple[int, ...], name: str = "noise") -> np.ndarray:
    C.check_noise_or_rng(noise, rng, noise_name=name)
    if noise is None:
        return rng.standard_normal(shape)
    z = _data(name, noise)
    C.check_shape(name, z, shape)
    return z


def _clip_range(clip_x0: object) -> tuple[float, float] | None:
    if clip_x0 is None:
        return None
    if not isinstance(clip_x0, (tuple, list)) or len(clip_x0) != 2:
        raise TypeError(f"clip_x0: expected None or a pair (low, high), got {C.describe(clip_x0)}")
    low, high = C.check_real_scalar("clip_x0[0]", clip_x0[0]), C.check_real_scalar("clip_x0[1]", clip_x0[1])
    if not low < high:
        raise ValueError(f"clip_x0: expected low < high, got ({low!r}, {high!r})")
    return low, high


def _sum_features(x: np.ndarray) -> np.ndarray:
    """Sum over every axis after the first (batch) axis."""
    return np.sum(x, axis=tuple(range(1, x.ndim)))


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
    """
    T = _positive_int("T", T)
    beta_start = _open_unit("beta_start", beta_start)
    beta_end = _open_unit("beta_end", beta_end)
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
    Nichol, Dhariwal, Improved Denoising Diffusion Probabilistic Models, ICML 2021, eq. (17).
    """
    T = _positive_int("T", T)
    s = C.check_real_scalar("s", s)
    if s < 0:
        raise ValueError(f"s: expected a finite number >= 0, got {s!r}")
    max_beta = _open_unit("max_beta", max_beta)
    steps = np.arange(T + 1, dtype=np.float64) / T
    f = np.cos((steps + s) / (1.0 + s) * (np.pi / 2.0)) ** 2
    alpha_bar = f / f[0]
    return np.minimum(1.0 - alpha_bar[1:] / alpha_bar[:-1], max_beta)


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
    coefficients of mu_tilde above). ``T`` is the number of steps.

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
    """

    def __init__(self, betas: np.ndarray) -> None:
        betas = _betas(betas).copy()
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


# --------------------------------------------------------------------------- forward process


def q_step(x_prev: np.ndarray, t: np.ndarray, schedule: Schedule, noise: np.ndarray | None = None, *, rng=None):
    r"""One forward step: a draw from q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I).

    .. math::

        x_t = \sqrt{1 - \beta_t}\, x_{t-1} + \sqrt{\beta_t}\, \epsilon, \qquad \epsilon \sim \mathcal N(0, I).

    Parameters
    ----------
    x_prev : (n, ...) array_like
        x_{t-1} (the data x_0 at position 0).
    t : () or (n,) int array_like
        Positions 0..T-1 of the step being taken.
    schedule : Schedule
    noise : (n, ...) array_like, optional
        The standard normals eps, shape of ``x_prev``. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional

    Returns
    -------
    (n, ...) ndarray
        x_t.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (the forward Markov chain);
    Ho, Jain, Abbeel, NeurIPS 2020, eq. (2).
    """
    schedule = _schedule(schedule)
    x_prev = _data("x_prev", x_prev)
    t = _positions(t, schedule, x_prev, "x_prev")
    eps = _noise(noise, rng, x_prev.shape)
    beta = _at(schedule.betas, t, x_prev.ndim)
    return np.sqrt(1.0 - beta) * x_prev + np.sqrt(beta) * eps


def q_sample(x0: np.ndarray, t: np.ndarray, schedule: Schedule, noise: np.ndarray | None = None, *, rng=None):
    r"""A draw from q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I) (closed-form noising).

    .. math::

        x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \epsilon, \qquad \epsilon \sim \mathcal N(0, I).

    Parameters
    ----------
    x0 : (n, ...) array_like
        Data.
    t : () or (n,) int array_like
        Positions 0..T-1 (slide step t + 1).
    schedule : Schedule
    noise : (n, ...) array_like, optional
        eps, shape of ``x0``. Exactly one of ``noise`` and ``rng`` (pass ``noise`` to keep eps for the loss).
    rng : numpy.random.Generator, optional

    Returns
    -------
    (n, ...) ndarray
        x_t.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Training' (step 3) and 'DDPM vs NCSN' (q(x_t | x_0));
    Ho, Jain, Abbeel, NeurIPS 2020, eq. (4).
    """
    schedule = _schedule(schedule)
    x0 = _data("x0", x0)
    t = _positions(t, schedule, x0, "x0")
    eps = _noise(noise, rng, x0.shape)
    return _at(schedule.sqrt_alpha_bars, t, x0.ndim) * x0 + _at(schedule.sqrt_one_minus_alpha_bars, t, x0.ndim) * eps


class Posterior(NamedTuple):
    """Mean and variance of the Gaussian q(x_{t-1} | x_t, x_0); the variance broadcasts against the mean."""

    mean: np.ndarray
    variance: np.ndarray


def q_posterior(x0: np.ndarray, x_t: np.ndarray, t: np.ndarray, schedule: Schedule) -> Posterior:
    r"""Mean and variance of the forward-process posterior q(x_{t-1} | x_t, x_0) = N(mu_tilde, beta_tilde I).

    .. math::

        \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}} \beta_t}{1 - \bar\alpha_t} x_0
                    + \frac{\sqrt{\alpha_t} (1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t} x_t,
        \qquad
        \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t} \beta_t.

    At position 0 the posterior is the point mass at x_0 (mean x_0, variance 0).

    Parameters
    ----------
    x0, x_t : (n, ...) array_like
        Data and its noisy version at position t, one shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    Posterior
        ``mean`` of shape (n, ...) and ``variance`` of shape ``t.shape + (1,) * (x.ndim - t.ndim)``.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model';
    Ho, Jain, Abbeel, NeurIPS 2020, eqs. (6)-(7).
    """
    schedule = _schedule(schedule)
    x0, x_t = _data("x0", x0), _data("x_t", x_t)
    _same_shape(("x0", "x_t"), (x0, x_t))
    t = _positions(t, schedule, x0, "x0")
    coef_x0 = _at(schedule.posterior_mean_coef_x0, t, x0.ndim)
    coef_xt = _at(schedule.posterior_mean_coef_xt, t, x0.ndim)
    return Posterior(coef_x0 * x0 + coef_xt * x_t, _at(schedule.beta_tilde, t, x0.ndim))


# --------------------------------------------------------------------------- conversions


def predict_x0_from_eps(x_t: np.ndarray, eps: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""x_0 from x_t and the noise, inverting q_sample.

    .. math::

        \hat x_0 = \frac{x_t - \sqrt{1 - \bar\alpha_t}\, \epsilon}{\sqrt{\bar\alpha_t}}.

    With eps = E[eps | x_t] (an ideal eps model) this is Tweedie's E[x_0 | x_t]. The factor
    1 / sqrt(alpha_bar_t) reaches 158 at the end of the linear schedule (T = 1000) and 2e4 at the end of
    the clipped cosine schedule, which is why samplers clip x0.

    Parameters
    ----------
    x_t, eps : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (15).
    """
    schedule = _schedule(schedule)
    x_t, eps = _data("x_t", x_t), _data("eps", eps)
    _same_shape(("x_t", "eps"), (x_t, eps))
    t = _positions(t, schedule, x_t, "x_t")
    sqrt_alpha_bar = _at(schedule.sqrt_alpha_bars, t, x_t.ndim)
    sqrt_one_minus_alpha_bar = _at(schedule.sqrt_one_minus_alpha_bars, t, x_t.ndim)
    return (x_t - sqrt_one_minus_alpha_bar * eps) / sqrt_alpha_bar


def predict_eps_from_x0(x_t: np.ndarray, x0: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""The noise that takes x_0 to x_t, inverting q_sample.

    .. math::

        \epsilon = \frac{x_t - \sqrt{\bar\alpha_t}\, x_0}{\sqrt{1 - \bar\alpha_t}}.

    Parameters
    ----------
    x_t, x0 : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (4).
    """
    schedule = _schedule(schedule)
    x_t, x0 = _data("x_t", x_t), _data("x0", x0)
    _same_shape(("x_t", "x0"), (x_t, x0))
    t = _positions(t, schedule, x_t, "x_t")
    sqrt_alpha_bar = _at(schedule.sqrt_alpha_bars, t, x_t.ndim)
    sqrt_one_minus_alpha_bar = _at(schedule.sqrt_one_minus_alpha_bars, t, x_t.ndim)
    return (x_t - sqrt_alpha_bar * x0) / sqrt_one_minus_alpha_bar


def velocity(x0: np.ndarray, eps: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""The v-parametrisation target of Salimans & Ho: v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x_0.

    .. math::

        v_t = \sqrt{\bar\alpha_t}\, \epsilon - \sqrt{1 - \bar\alpha_t}\, x_0,

    the velocity d x_t / d phi of x_t = cos(phi) x_0 + sin(phi) eps with cos(phi) = sqrt(alpha_bar_t).
    Inverses: :func:`predict_x0_from_v`, :func:`predict_eps_from_v`. Every coefficient is at most 1 in
    absolute value, so no conversion through v amplifies rounding.

    Parameters
    ----------
    x0, eps : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Salimans, Ho, Progressive Distillation for Fast Sampling of Diffusion Models, ICLR 2022, Section 4
    and Appendix D.
    """
    schedule = _schedule(schedule)
    x0, eps = _data("x0", x0), _data("eps", eps)
    _same_shape(("x0", "eps"), (x0, eps))
    t = _positions(t, schedule, x0, "x0")
    return _at(schedule.sqrt_alpha_bars, t, x0.ndim) * eps - _at(schedule.sqrt_one_minus_alpha_bars, t, x0.ndim) * x0


def predict_x0_from_v(x_t: np.ndarray, v: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""x_0 from x_t and v: x_0 = sqrt(alpha_bar) x_t - sqrt(1 - alpha_bar) v.

    .. math::

        \hat x_0 = \sqrt{\bar\alpha_t}\, x_t - \sqrt{1 - \bar\alpha_t}\, v_t.

    Parameters
    ----------
    x_t, v : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Salimans, Ho, ICLR 2022, Section 4.
    """
    schedule = _schedule(schedule)
    x_t, v = _data("x_t", x_t), _data("v", v)
    _same_shape(("x_t", "v"), (x_t, v))
    t = _positions(t, schedule, x_t, "x_t")
    return _at(schedule.sqrt_alpha_bars, t, x_t.ndim) * x_t - _at(schedule.sqrt_one_minus_alpha_bars, t, x_t.ndim) * v


def predict_eps_from_v(x_t: np.ndarray, v: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""The noise from x_t and v: eps = sqrt(1 - alpha_bar) x_t + sqrt(alpha_bar) v.

    .. math::

        \hat\epsilon = \sqrt{1 - \bar\alpha_t}\, x_t + \sqrt{\bar\alpha_t}\, v_t.

    Parameters
    ----------
    x_t, v : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Salimans, Ho, ICLR 2022, Section 4.
    """
    schedule = _schedule(schedule)
    x_t, v = _data("x_t", x_t), _data("v", v)
    _same_shape(("x_t", "v"), (x_t, v))
    t = _positions(t, schedule, x_t, "x_t")
    return _at(schedule.sqrt_one_minus_alpha_bars, t, x_t.ndim) * x_t + _at(schedule.sqrt_alpha_bars, t, x_t.ndim) * v


def eps_to_score(eps: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""Score from noise prediction: s = -eps / sqrt(1 - alpha_bar_t) (the L14 reparametrisation).

    .. math::

        s_\theta(x_t, t) = -\frac{\epsilon_\theta(x_t, t)}{\sqrt{1 - \bar\alpha_t}}.

    With the true noise eps this is exactly grad_{x_t} log q(x_t | x_0) (:func:`q_score`).

    Parameters
    ----------
    eps : (n, ...) array_like
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 13, 'DDPM vs NCSN'; Lecture 14, recap 'DDPM vs NCSN' and 'Classifier guidance';
    Song et al., Score-Based Generative Modeling through SDEs, ICLR 2021, Appendix B.
    """
    schedule = _schedule(schedule)
    eps = _data("eps", eps)
    t = _positions(t, schedule, eps, "eps")
    return -eps / _at(schedule.sqrt_one_minus_alpha_bars, t, eps.ndim)


def score_to_eps(score: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""Noise prediction from a score: eps = -sqrt(1 - alpha_bar_t) s, the inverse of :func:`eps_to_score`.

    .. math::

        \epsilon_\theta(x_t, t) = -\sqrt{1 - \bar\alpha_t}\, s_\theta(x_t, t).

    Parameters
    ----------
    score : (n, ...) array_like
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 14, recap 'DDPM vs NCSN'.
    """
    schedule = _schedule(schedule)
    score = _data("score", score)
    t = _positions(t, schedule, score, "score")
    return -_at(schedule.sqrt_one_minus_alpha_bars, t, score.ndim) * score


def q_score(x_t: np.ndarray, x0: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""The denoising score-matching target grad_{x_t} log q(x_t | x_0).

    .. math::

        \nabla_{x_t} \log q(x_t \mid x_0) = -\frac{x_t - \sqrt{\bar\alpha_t}\, x_0}{1 - \bar\alpha_t}
        = -\frac{\epsilon}{\sqrt{1 - \bar\alpha_t}}.

    Parameters
    ----------
    x_t, x0 : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 13, 'DDPM vs NCSN'; Lecture 14, recap 'DDPM vs NCSN';
    Vincent, A Connection Between Score Matching and Denoising Autoencoders, Neural Computation 2011.
    """
    schedule = _schedule(schedule)
    x_t, x0 = _data("x_t", x_t), _data("x0", x0)
    _same_shape(("x_t", "x0"), (x_t, x0))
    t = _positions(t, schedule, x_t, "x_t")
    one_minus_alpha_bar = _at(schedule.one_minus_alpha_bars, t, x_t.ndim)
    return -(x_t - _at(schedule.sqrt_alpha_bars, t, x_t.ndim) * x0) / one_minus_alpha_bar


def p_mean_from_eps(x_t: np.ndarray, eps: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""Mean of the reverse step p(x_{t-1} | x_t) in the eps-parametrisation.

    .. math::

        \mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}} \Bigl(x_t - \frac{1 - \alpha_t}{\sqrt{1 - \bar\alpha_t}}
        \epsilon_\theta(x_t, t)\Bigr).

    With the true noise it equals the posterior mean mu_tilde_t(x_t, x_0) of :func:`q_posterior`.

    Parameters
    ----------
    x_t, eps : (n, ...) array_like
        One shape.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization' and 'Sampling' (step 2);
    Ho, Jain, Abbeel, NeurIPS 2020, eq. (11).
    """
    schedule = _schedule(schedule)
    x_t, eps = _data("x_t", x_t), _data("eps", eps)
    _same_shape(("x_t", "eps"), (x_t, eps))
    t = _positions(t, schedule, x_t, "x_t")
    return _p_mean(x_t, eps, t, schedule)


def _p_mean(x_t: np.ndarray, eps: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    beta = _at(schedule.betas, t, x_t.ndim)  # 1 - alpha_t, from the table (no cancellation)
    sqrt_one_minus_alpha_bar = _at(schedule.sqrt_one_minus_alpha_bars, t, x_t.ndim)
    return (x_t - beta / sqrt_one_minus_alpha_bar * eps) / np.sqrt(_at(schedule.alphas, t, x_t.ndim))


# --------------------------------------------------------------------------- ELBO terms


def gaussian_kl(mean_q: np.ndarray, var_q: np.ndarray, mean_p: np.ndarray, var_p: np.ndarray) -> np.ndarray:
    r"""KL(N(mean_q, var_q I) || N(mean_p, var_p I)) per batch element, summed over the feature axes.

    .. math::

        \mathrm{KL} = \frac12 \sum_i \Bigl[\frac{\sigma_q^2}{\sigma_p^2} - 1 - \log\frac{\sigma_q^2}{\sigma_p^2}
        + \frac{(\mu_{q,i} - \mu_{p,i})^2}{\sigma_p^2}\Bigr].

    The variance term is evaluated as r - log1p(r) with r = (var_q - var_p) / var_p where |r| < 1/2,
    which keeps its digits when the variances are nearly equal (it is r^2 / 2 there; var_q - var_p is
    exact), and as ratio - 1 - log(ratio) otherwise (log1p(r) would lose digits to 1 + r for
    var_q << var_p). Variances may vary per element (diagonal Gaussians); the isotropic case passes one
    variance per batch element, e.g. of shape (n, 1, ..., 1) as :func:`q_posterior` returns it.

    Parameters
    ----------
    mean_q, mean_p : (n, ...) array_like
        Means.
    var_q : array_like
        Variances of q, >= 0 (0 gives +inf, a point mass against a Gaussian); broadcast against the means.
    var_p : array_like
        Variances of p, > 0; broadcast against the means.

    Returns
    -------
    (n,) ndarray
        KL in nats; the first axis of the broadcast shape is the batch axis, all others are summed.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (L_t and the prior term are
    KLs between isotropic Gaussians); Ho, Jain, Abbeel, NeurIPS 2020, eq. (5).
    """
    mean_q, mean_p = _data("mean_q", mean_q), _data("mean_p", mean_p)
    var_q, var_p = _data("var_q", var_q), _data("var_p", var_p)
    if np.any(var_q < 0):
        raise ValueError(f"var_q: expected variances >= 0, got min {np.min(var_q)!r}")
    if np.any(var_p <= 0):
        raise ValueError(f"var_p: expected variances > 0, got min {np.min(var_p)!r}")
    shape = C.broadcast_batch(
        ("mean_q", "var_q", "mean_p", "var_p"), (mean_q.shape, var_q.shape, mean_p.shape, var_p.shape)
    )
    if len(shape) == 0:
        raise ValueError("mean_q, mean_p: expected a batch axis (shape (n, ...)), got scalars")
    ratio, r = var_q / var_p, (var_q - var_p) / var_p
    with np.errstate(divide="ignore"):
        variance_term = np.where(np.abs(r) < 0.5, r - np.log1p(r), ratio - 1.0 - np.log(ratio))
    kl = 0.5 * (variance_term + (mean_q - mean_p) ** 2 / var_p)
    return _sum_features(np.broadcast_to(kl, shape))


def _positions_after_first(t: np.ndarray, what: str) -> None:
    if t.size and np.min(t) == 0:
        raise ValueError(
            f"t: expected positions 1..T-1 for {what}; position 0 (the slide's step 1) is the reconstruction "
            "term E log p(x_0 | x_1), not a KL (beta_tilde = 0 there), got a 0"
        )


def elbo_weight(t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""Weight of ||eps - eps_theta||^2 in L_t: (1 - alpha)^2 / (2 beta_tilde alpha (1 - alpha_bar)).

    .. math::

        \lambda_t = \frac{(1 - \alpha_t)^2}{2 \tilde\beta_t \alpha_t (1 - \bar\alpha_t)}
                  = \frac{\beta_t}{2 \alpha_t (1 - \bar\alpha_{t-1})},
        \qquad \mathcal L_t = \lambda_t \|\epsilon - \epsilon_\theta\|^2.

    Evaluated in the first (the slide's) form, with 1 - alpha_t = beta_t taken from the table. Defined
    for positions 1..T-1 (the slide's t = 2..T): at position 0, beta_tilde = 0 and the ELBO has the
    reconstruction term instead, so ``t = 0`` is refused.

    Parameters
    ----------
    t : () or (n,) int array_like
        Positions 1..T-1.
    schedule : Schedule

    Returns
    -------
    () or (n,) ndarray
        lambda_t, float64.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (12).
    """
    schedule = _schedule(schedule)
    t = _positions(t, schedule)
    _positions_after_first(t, "elbo_weight")
    return _elbo_weight(t, schedule)


def _elbo_weight(t: np.ndarray, schedule: Schedule) -> np.ndarray:
    beta, alpha, beta_tilde = schedule.betas[t], schedule.alphas[t], schedule.beta_tilde[t]
    return beta**2 / (2.0 * beta_tilde * alpha * schedule.one_minus_alpha_bars[t])


def l_t(x0: np.ndarray, x_t: np.ndarray, eps_pred: np.ndarray, t: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""The ELBO term L_t: KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t)) for one x_t, as a Gaussian KL.

    .. math::

        \mathcal L_t = \mathrm{KL}\bigl(\mathcal N(\tilde\mu_t(x_t, x_0), \tilde\beta_t I) \,\|\,
        \mathcal N(\mu_\theta(x_t, t), \tilde\beta_t I)\bigr)
        = \frac{1}{2 \tilde\beta_t} \|\tilde\mu_t(x_t, x_0) - \mu_\theta(x_t, t)\|^2,

    with the slide's assumption sigma_theta^2 = beta_tilde_t and mu_theta from ``eps_pred``
    (:func:`p_mean_from_eps`). Computed through :func:`gaussian_kl` from the two means, *not* through
    the weight; that it equals ``elbo_weight(t) * l_simple(eps, eps_pred)`` for x_t = q_sample(x0, t, eps)
    is a theorem checked in crosscheck. This is the integrand: the slide's L_t is its expectation over
    x_t ~ q(x_t | x_0).

    Parameters
    ----------
    x0, x_t, eps_pred : (n, ...) array_like
        Data, its noisy version at position t and the model's noise prediction; one shape.
    t : () or (n,) int array_like
        Positions 1..T-1 (position 0 is the reconstruction term; refused).
    schedule : Schedule

    Returns
    -------
    (n,) ndarray
        KL in nats, summed over the feature axes.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' and 'Reparametrization';
    Ho, Jain, Abbeel, NeurIPS 2020, eqs. (5), (8).
    """
    schedule = _schedule(schedule)
    x0, x_t, eps_pred = _data("x0", x0, 1), _data("x_t", x_t, 1), _data("eps_pred", eps_pred, 1)
    _same_shape(("x0", "x_t", "eps_pred"), (x0, x_t, eps_pred))
    t = _positions(t, schedule, x0, "x0")
    _positions_after_first(t, "l_t")
    beta_tilde = _at(schedule.beta_tilde, t, x0.ndim)
    mu_tilde = (
        _at(schedule.posterior_mean_coef_x0, t, x0.ndim) * x0 + _at(schedule.posterior_mean_coef_xt, t, x0.ndim) * x_t
    )
    mu_theta = _p_mean(x_t, eps_pred, t, schedule)
    return gaussian_kl(mu_tilde, beta_tilde, mu_theta, beta_tilde)


def l_simple(eps: np.ndarray, eps_pred: np.ndarray) -> np.ndarray:
    r"""The simplified objective's term ||eps - eps_theta||^2, summed over the feature axes.

    .. math::

        \mathcal L_{\text{simple}} = \|\epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t} x_0
        + \sqrt{1 - \bar\alpha_t} \epsilon, t)\|^2.

    The code of Ho et al. averages over features instead (``mean_flat``): that is this value divided
    by the number of features. Average over the batch and over t yourself: L13's 'Simplified
    objective' writes t ~ U[2, T] (the KL terms only), its 'Training' slide and Ho et al. t ~ U[1, T]
    (positions 0..T-1 here).

    Parameters
    ----------
    eps, eps_pred : (n, ...) array_like
        True and predicted noise, one shape.

    Returns
    -------
    (n,) ndarray

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Simplified objective' and 'Training' (step 4);
    Ho, Jain, Abbeel, NeurIPS 2020, eq. (14).
    """
    eps, eps_pred = _data("eps", eps, 1), _data("eps_pred", eps_pred, 1)
    _same_shape(("eps", "eps_pred"), (eps, eps_pred))
    return _sum_features((eps - eps_pred) ** 2)


def prior_kl(x0: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""The ELBO's prior term KL(q(x_T | x_0) || N(0, I)) per batch element (no parameters; ~0 for a good schedule).

    .. math::

        \mathrm{KL}\bigl(\mathcal N(\sqrt{\bar\alpha_T} x_0, (1 - \bar\alpha_T) I) \,\|\, \mathcal N(0, I)\bigr)
        = \frac12 \Bigl[ D \bigl(-\bar\alpha_T - \log(1 - \bar\alpha_T)\bigr) + \bar\alpha_T \|x_0\|^2 \Bigr],

    with D the number of features; the first bracket is evaluated as -alpha_bar_T - log1p(-alpha_bar_T)
    (about alpha_bar_T^2 / 2, no cancellation).

    Parameters
    ----------
    x0 : (n, ...) array_like
    schedule : Schedule

    Returns
    -------
    (n,) ndarray
        KL in nats.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (KL(q(x_T | x_0) || p(x_T)));
    Ho, Jain, Abbeel, NeurIPS 2020, eq. (5) (L_T).
    """
    schedule = _schedule(schedule)
    x0 = _data("x0", x0, 1)
    alpha_bar_T = schedule.alpha_bars[-1]
    D = x0[0].size
    return 0.5 * (D * (-alpha_bar_T - np.log1p(-alpha_bar_T)) + alpha_bar_T * _sum_features(x0**2))


def weighted_dsm_loss(score: np.ndarray, x_t: np.ndarray, x0: np.ndarray, t: np.ndarray, schedule: Schedule):
    r"""NCSN's sigma^2-weighted denoising score-matching term on the DDPM kernel q(x_t | x_0).

    .. math::

        \sigma_t^2 \bigl\|s_\theta(x_t, t) - \nabla_{x_t} \log q(x_t \mid x_0)\bigr\|^2,
        \qquad \sigma_t^2 = 1 - \bar\alpha_t.

    This is the NCSN objective of L13 (noise level sigma_l, weight sigma_l^2) with the DDPM kernel
    N(sqrt(alpha_bar_t) x_0, sigma_t^2 I) in place of N(x, sigma_l^2 I). The identities of 'DDPM vs NCSN',
    checked in crosscheck: with x_t = q_sample(x0, t, eps) and eps_theta = score_to_eps(score),

    .. math::

        \sigma_t^2 \|s_\theta - \nabla \log q\|^2 = \|\epsilon - \epsilon_\theta\|^2 \ (= \mathcal L_{\text{simple}}),
        \qquad \mathcal L_t = \lambda_t \, \sigma_t^2 \|s_\theta - \nabla \log q\|^2 .

    Parameters
    ----------
    score : (n, ...) array_like
        The model's score s_theta(x_t, t).
    x_t, x0 : (n, ...) array_like
        Noisy sample and data, one shape with ``score``.
    t : () or (n,) int array_like
    schedule : Schedule

    Returns
    -------
    (n,) ndarray

    References
    ----------
    Isachenko, DGM Lecture 13, 'Noise Conditioned Score Network (NCSN)' and 'DDPM vs NCSN';
    Song, Ermon, Generative Modeling by Estimating Gradients of the Data Distribution, NeurIPS 2019, eq. (6).
    """
    schedule = _schedule(schedule)
    score, x_t, x0 = _data("score", score, 1), _data("x_t", x_t, 1), _data("x0", x0, 1)
    _same_shape(("score", "x_t", "x0"), (score, x_t, x0))
    t = _positions(t, schedule, x_t, "x_t")
    sigma2 = _at(schedule.one_minus_alpha_bars, t, x_t.ndim)
    target = -(x_t - _at(schedule.sqrt_alpha_bars, t, x_t.ndim) * x0) / sigma2
    return _sum_features(sigma2 * (score - target) ** 2)


# --------------------------------------------------------------------------- sampling


def _step(
    x_t: np.ndarray,
    eps_pred: np.ndarray,
    t: np.ndarray,
    schedule: Schedule,
    z: np.ndarray,
    clip: tuple[float, float] | None,
) -> np.ndarray:
    if clip is None:
        mean = _p_mean(x_t, eps_pred, t, schedule)
    else:
        sqrt_alpha_bar = _at(schedule.sqrt_alpha_bars, t, x_t.ndim)
        x0_hat = (x_t - _at(schedule.sqrt_one_minus_alpha_bars, t, x_t.ndim) * eps_pred) / sqrt_alpha_bar
        x0_hat = np.clip(x0_hat, clip[0], clip[1])
        mean = (
            _at(schedule.posterior_mean_coef_x0, t, x_t.ndim) * x0_hat
            + _at(schedule.posterior_mean_coef_xt, t, x_t.ndim) * x_t
        )
    return mean + np.sqrt(_at(schedule.beta_tilde, t, x_t.ndim)) * z


def ddpm_step(
    x_t: np.ndarray,
    eps_pred: np.ndarray,
    t: np.ndarray,
    schedule: Schedule,
    noise: np.ndarray | None = None,
    *,
    rng=None,
    clip_x0: tuple[float, float] | None = None,
) -> np.ndarray:
    r"""One ancestral sampling step x_t -> x_{t-1} ~ N(mu_theta(x_t, t), beta_tilde_t I).

    .. math::

        x_{t-1} = \frac{1}{\sqrt{\alpha_t}} \Bigl(x_t - \frac{1 - \alpha_t}{\sqrt{1 - \bar\alpha_t}}
        \epsilon_\theta\Bigr) + \sqrt{\tilde\beta_t}\, z, \qquad z \sim \mathcal N(0, I).

    No noise at the last step: at position 0, beta_tilde = 0 exactly (alpha_bar_prev = 1), so the
    step returns the mean whatever ``noise`` holds (Algorithm 2's "z = 0 if t = 1").

    With ``clip_x0=(low, high)`` the mean is instead the posterior mean at the clipped prediction
    x0_hat = clip(predict_x0_from_eps(x_t, eps), low, high), mu = mu_tilde_t(x_t, x0_hat), as the code
    of Ho et al. does for images in [-1, 1]; without clipping the two means are equal.

    Parameters
    ----------
    x_t, eps_pred : (n, ...) array_like
        Current sample and the model's noise prediction at it, one shape.
    t : () or (n,) int array_like
        Positions of x_t (0..T-1).
    schedule : Schedule
    noise : (n, ...) array_like, optional
        z, shape of ``x_t``. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
    clip_x0 : (float, float), optional
        Range for the x_0 prediction, ``low < high``; ``None`` (default) for no clipping.

    Returns
    -------
    (n, ...) ndarray
        x_{t-1}.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Sampling' (steps 2-3); Ho, Jain, Abbeel, NeurIPS 2020, Algorithm 2.
    """
    schedule = _schedule(schedule)
    x_t, eps_pred = _data("x_t", x_t), _data("eps_pred", eps_pred)
    _same_shape(("x_t", "eps_pred"), (x_t, eps_pred))
    t = _positions(t, schedule, x_t, "x_t")
    clip = _clip_range(clip_x0)
    z = _noise(noise, rng, x_t.shape)
    return _step(x_t, eps_pred, t, schedule, z, clip)


def _shape(shape: object) -> tuple[int, ...]:
    if not isinstance(shape, (tuple, list)) or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape
    ):
        raise TypeError(f"shape: expected a tuple of ints (n, ...), got {C.describe(shape)}")
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0 or any(s < 1 for s in shape):
        raise ValueError(f"shape: expected (n, ...) with every size >= 1, got {shape}")
    return shape


def _progress(iterable: range, progress: object, total: int):
    if not isinstance(progress, bool):
        raise TypeError(f"progress: expected a bool, got {C.describe(progress)}")
    if not progress:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc="DDPM sampling", unit="step")


def ddpm_sample(
    eps_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    shape: tuple[int, ...],
    schedule: Schedule,
    noise: np.ndarray | None = None,
    *,
    rng=None,
    clip_x0: tuple[float, float] | None = None,
    progress: bool = False,
) -> np.ndarray:
    r"""Ancestral DDPM sampling: x_T ~ N(0, I), then T steps of :func:`ddpm_step` down to x_0.

    .. math::

        x_T \sim \mathcal N(0, I), \qquad
        x_{t-1} = \mu_\theta(x_t, t) + \sqrt{\tilde\beta_t}\, z_t \quad (t = T, \dots, 1;\ z_1 = 0).

    ``eps_fn(x_t, t)`` is called once per step with the current batch and the position as an int64
    array of shape (n,) (every entry equal), and must return an array of the batch's shape.

    Noise layout (every draw, in order of use): ``noise[0]`` is x_T; ``noise[k]`` for k = 1..T-1 is the
    z added by the k-th step (the step from position T - k); the last step (position 0) adds none, so
    ``noise`` has shape ``(T, *shape)``.

    Parameters
    ----------
    eps_fn : callable
        The noise model eps_theta(x_t, t).
    shape : tuple of int
        Batch shape (n, ...) of the samples.
    schedule : Schedule
    noise : (T, n, ...) array_like, optional
        Standard normals as laid out above. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws x_T and then one z per step, in the order above.
    clip_x0 : (float, float), optional
        Clip the x_0 prediction to this range at every step (see :func:`ddpm_step`).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    (n, ...) ndarray
        x_0.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Sampling'; Ho, Jain, Abbeel, NeurIPS 2020, Algorithm 2.
    """
    if not callable(eps_fn):
        raise TypeError(f"eps_fn: expected a callable eps_fn(x_t, t), got {C.describe(eps_fn)}")
    shape = _shape(shape)
    schedule = _schedule(schedule)
    clip = _clip_range(clip_x0)
    T = schedule.T
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        noise = _data("noise", noise)
        C.check_shape("noise", noise, (T, *shape))
    x = noise[0] if noise is not None else rng.standard_normal(shape)
    zeros = np.zeros(shape)
    for k in _progress(range(T), progress, T):
        t = T - 1 - k
        tt = np.full(shape[0], t, dtype=np.int64)
        eps = C.as_float64("eps_fn(x_t, t)", eps_fn(x, tt))
        if eps.shape != shape:
            raise ValueError(f"eps_fn(x_t, t): expected an output of shape {shape}, got shape {eps.shape}")
        if t == 0:
            z = zeros
        else:
            z = noise[k + 1] if noise is not None else rng.standard_normal(shape)
        x = _step(x, eps, tt, schedule, z, clip)
    return x


class GaussianEps:
    r"""The exact noise prediction eps*(x_t, t) = E[eps | x_t] for Gaussian data x_0 ~ N(m, Sigma).

    .. math::

        x_t \sim \mathcal N\bigl(\sqrt{\bar\alpha_t} m,\ \Sigma_t\bigr),\quad
        \Sigma_t = \bar\alpha_t \Sigma + (1 - \bar\alpha_t) I,\qquad
        \epsilon^*(x_t, t) = -\sqrt{1 - \bar\alpha_t}\, \nabla \log q(x_t)
        = \sqrt{1 - \bar\alpha_t}\, \Sigma_t^{-1} (x_t - \sqrt{\bar\alpha_t} m).

    Evaluated through the eigendecomposition Sigma = Q diag(lambda) Q^T, where Sigma_t^{-1} =
    Q diag(1 / (alpha_bar lambda + 1 - alpha_bar)) Q^T. A test model: with it, :func:`ddpm_sample`
    draws (up to the discretisation of the reverse process) from N(m, Sigma).

    Parameters
    ----------
    mean : (d,) array_like
        m.
    cov : (d, d) array_like
        Sigma, symmetric positive definite.
    schedule : Schedule

    Call
    ----
    ``model(x_t, t)`` with x_t of shape (n, d) and t of shape () or (n,) returns eps of shape (n, d).

    References
    ----------
    Isachenko, DGM Lecture 14, recap 'DDPM vs NCSN' (s = -eps / sqrt(1 - alpha_bar));
    Ho, Jain, Abbeel, NeurIPS 2020, Section 3.2.
    """

    def __init__(self, mean: np.ndarray, cov: np.ndarray, schedule: Schedule) -> None:
        mean, cov = _data("mean", mean), C.as_float64("cov", cov)
        if mean.ndim != 1:
            raise ValueError(f"mean: expected a vector of shape (d,), got shape {mean.shape}")
        C.check_shape("cov", cov, (mean.shape[0], mean.shape[0]))
        C.cholesky_spd("cov", cov)
        self.schedule = _schedule(schedule)
        self.mean = mean
        self.cov = cov
        self.eigenvalues, self.eigenvectors = np.linalg.eigh(cov)

    def __call__(self, x_t: np.ndarray, t: np.ndarray) -> np.ndarray:
        x_t = _data("x_t", x_t)
        if x_t.ndim != 2 or x_t.shape[1] != self.mean.shape[0]:
            raise ValueError(f"x_t: expected shape (n, {self.mean.shape[0]}), got shape {x_t.shape}")
        t = _positions(t, self.schedule, x_t, "x_t")
        alpha_bar = _at(self.schedule.alpha_bars, t, 2)
        Q = self.eigenvectors
        y = (x_t - np.sqrt(alpha_bar) * self.mean) @ Q
        one_minus_alpha_bar = _at(self.schedule.one_minus_alpha_bars, t, 2)
        y = y * (np.sqrt(one_minus_alpha_bar) / (alpha_bar * self.eigenvalues + one_minus_alpha_bar))
        return y @ Q.T


# --------------------------------------------------------------------------- guidance


def _scale(scale: object) -> float:
    return C.check_real_scalar("scale", scale)


def classifier_guided_mean(mean: np.ndarray, variance: np.ndarray, grad_log_py: np.ndarray, scale: float):
    r"""Classifier guidance as a mean shift: mu + gamma sigma^2 grad log p(y | x) at x = mu.

    .. math::

        \hat\mu = \mu + \gamma\, \sigma^2\, g, \qquad g = \nabla_{x_{t-1}} \log p(y \mid x_{t-1}, \phi)
        \big|_{x_{t-1} = \mu}.

    Tilting N(mu, sigma^2 I) by exp(gamma g^T x) gives N(mu + gamma sigma^2 g, sigma^2 I) exactly (complete
    the square). The L14 slide 'Classifier guidance' writes sigma (.) g: a typo, the square completes with
    sigma^2 g, which its 'Guided sampling' algorithm (mu + beta_tilde g) uses. gamma = ``scale`` is the
    gradient scale s of Dhariwal & Nichol (gamma = 1 is the slide's unscaled shift).

    Parameters
    ----------
    mean, grad_log_py : (n, ...) array_like
        mu_theta(x_t, t) and the classifier gradient at it, one shape.
    variance : array_like
        sigma^2 (e.g. beta_tilde_t of shape (n, 1, ..., 1)), >= 0, broadcast against ``mean``.
    scale : float
        gamma.

    Returns
    -------
    (n, ...) ndarray
        The guided mean; the variance is unchanged.

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier guidance' and 'Guided sampling' (step 4);
    Dhariwal, Nichol, Diffusion Models Beat GANs on Image Synthesis, NeurIPS 2021, Algorithm 1.
    """
    mean, grad = _data("mean", mean), _data("grad_log_py", grad_log_py)
    variance = _data("variance", variance)
    _same_shape(("mean", "grad_log_py"), (mean, grad))
    if np.any(variance < 0):
        raise ValueError(f"variance: expected variances >= 0, got min {np.min(variance)!r}")
    if C.broadcast_batch(("mean", "variance"), (mean.shape, variance.shape)) != mean.shape:
        raise ValueError(f"variance: expected a shape that broadcasts to mean's {mean.shape}, got {variance.shape}")
    gamma = _scale(scale)
    return mean + gamma * variance * grad


def classifier_guided_eps(eps: np.ndarray, grad_log_py: np.ndarray, t: np.ndarray, schedule: Schedule, scale: float):
    r"""Classifier guidance on the noise: eps_hat = eps - gamma sqrt(1 - alpha_bar_t) grad log p(y | x_t).

    .. math::

        \hat\epsilon_\theta(x_t, t) = \epsilon_\theta(x_t, t) - \gamma \sqrt{1 - \bar\alpha_t}\,
        \nabla_{x_t} \log p(y \mid x_t, \phi),

    so that -eps_hat / sqrt(1 - alpha_bar) = gamma grad log p(y | x_t) + grad log p(x_t), the score of
    p(y | x_t)^gamma p(x_t) / Z; gamma = 1 gives the conditional score grad log p(x_t | y). Z integrates
    x_t out, so its gradient is 0 (the slide's "check that grad Z ..." exercise).

    Parameters
    ----------
    eps, grad_log_py : (n, ...) array_like
        Unconditional noise prediction and classifier gradient at x_t, one shape.
    t : () or (n,) int array_like
    schedule : Schedule
    scale : float
        gamma.

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier guidance' (corrected eps, guided sampling step 2);
    Dhariwal, Nichol, NeurIPS 2021, Algorithm 2 and eq. (14).
    """
    schedule = _schedule(schedule)
    eps, grad = _data("eps", eps), _data("grad_log_py", grad_log_py)
    _same_shape(("eps", "grad_log_py"), (eps, grad))
    t = _positions(t, schedule, eps, "eps")
    gamma = _scale(scale)
    return eps - gamma * _at(schedule.sqrt_one_minus_alpha_bars, t, eps.ndim) * grad


def classifier_free_guidance(eps_cond: np.ndarray, eps_uncond: np.ndarray, scale: float) -> np.ndarray:
    r"""Classifier-free guidance: eps_hat = gamma eps(x_t, y) + (1 - gamma) eps(x_t).

    .. math::

        \hat\epsilon_\theta(x_t, t) = \gamma\, \epsilon_\theta(x_t, y, t) + (1 - \gamma)\, \epsilon_\theta(x_t, t).

    Convention: gamma (``scale``) is the ``guidance_scale`` of the common pipelines (diffusers), where
    gamma = 1 is plain conditional sampling and gamma = 0 unconditional. Ho & Salimans write
    (1 + w) eps(x_t, y) - w eps(x_t): gamma = 1 + w, so their w = 0 is gamma = 1. Evaluated in the slide's
    form, so gamma = 1 returns ``eps_cond`` exactly. Through Bayes' rule this equals classifier guidance
    (:func:`classifier_guided_eps`) with the implicit classifier p(y | x_t) ∝ p(x_t | y) / p(x_t).

    Parameters
    ----------
    eps_cond, eps_uncond : (n, ...) array_like
        Conditional and unconditional noise predictions, one shape.
    scale : float
        gamma.

    Returns
    -------
    (n, ...) ndarray

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier-free guidance'; Ho, Salimans, Classifier-Free Diffusion
    Guidance, NeurIPS 2021 Workshop (arXiv:2207.12598), eq. (6).
    """
    eps_cond, eps_uncond = _data("eps_cond", eps_cond), _data("eps_uncond", eps_uncond)
    _same_shape(("eps_cond", "eps_uncond"), (eps_cond, eps_uncond))
    gamma = _scale(scale)
    return gamma * eps_cond + (1.0 - gamma) * eps_uncond
