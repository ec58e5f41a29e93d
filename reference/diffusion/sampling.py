r"""Ancestral sampling: one reverse step, the sampling loop, and the exact eps of Gaussian data.

Part of :mod:`reference.diffusion` (NumPy, float64); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'Sampling' (Ho et al. Algorithm 2); Lecture 14, recap 'DDPM objective'
(the exact eps of Gaussian data through its score).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import reference._args as A
import reference._args.diffusion as AD

from .. import _checks as C
from ._inputs import _at, _check_data, _check_pair, _check_positions, _check_schedule, _noise
from .conversions import _p_mean
from .schedules import Schedule

__all__ = ["GaussianEps", "ddpm_sample", "ddpm_step"]


def _step(
    x_t: np.ndarray,
    eps_pred: np.ndarray,
    t: np.ndarray,
    schedule: Schedule,
    z: np.ndarray,
    clip: tuple[float, float] | None,
    guidance=None,
    scale: float = 1.0,
) -> np.ndarray:
    if clip is None:
        mean = _p_mean(x_t, eps_pred, t, schedule)
    else:
        sqrt_alpha_bar = _at(schedule, "sqrt_alpha_bars", t, x_t)
        x0_hat = (x_t - _at(schedule, "sqrt_one_minus_alpha_bars", t, x_t) * eps_pred) / sqrt_alpha_bar
        x0_hat = np.clip(x0_hat, clip[0], clip[1])
        mean = (
            _at(schedule, "posterior_mean_coef_x0", t, x_t) * x0_hat
            + _at(schedule, "posterior_mean_coef_xt", t, x_t) * x_t
        )
    beta_tilde = _at(schedule, "beta_tilde", t, x_t)
    if guidance is not None:  # L14 'Guided sampling' step 4: mu + beta_tilde g, g at x_{t-1} = mu
        g = C.as_float64("guidance(x, t)", guidance(mean, np.broadcast_to(t, x_t.shape[:1]).astype(np.int64)))
        if g.shape != mean.shape:
            raise ValueError(f"guidance(x, t): expected an output of shape {mean.shape}, got shape {g.shape}")
        C.check_finite("guidance(x, t)", g)
        mean = mean + scale * beta_tilde * g
    return mean + np.sqrt(beta_tilde) * z


def ddpm_step(
    x_t: np.ndarray,
    eps_pred: np.ndarray,
    t: np.ndarray,
    schedule: Schedule,
    noise: np.ndarray | None = None,
    *,
    rng=None,
    clip_x0: tuple[float, float] | None = None,
    guidance: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    guidance_scale: float = 1.0,
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
    guidance : callable, optional
        Classifier guidance, L14 'Guided sampling' (algorithm 1): ``guidance(x, t)`` returns
        g = grad_x log p(y | x, phi) at x = mu (the step's mean; t an int64 array of shape (n,)), and the
        step is x_{t-1} = mu + gamma beta_tilde_t g + sqrt(beta_tilde_t) z (:func:`classifier_guided_mean`).
    guidance_scale : float
        gamma (1: the slide's algorithm).

    Returns
    -------
    (n, ...) ndarray
        x_{t-1}.

    Notes
    -----
    With ``guidance`` the gradient is taken at x_{t-1} = mu, as the slide's step 3 writes (not at x_t).
    At position 0, beta_tilde = 0, so the last step has neither noise nor guidance shift. A guidance
    output of another shape or with non-finite values is refused with a ``ValueError`` naming
    ``guidance(x, t)``.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Sampling' (steps 2-3); Lecture 14, slide 'Guided sampling' (with
    ``guidance``, algorithm 1); Ho, Jain, Abbeel, NeurIPS 2020, Algorithm 2.

    Examples
    --------
    At position 0 no noise is added: x_0 = (x_1 - 0) / sqrt(0.9) for eps = 0, x_1 = 0.9:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> ddpm_step(np.array([[0.9]]), np.array([[0.0]]), np.array([0]), S, np.array([[5.0]])).item()
    0.9487
    """
    x_t, eps_pred, t, schedule = _check_pair(("x_t", "eps_pred"), x_t, eps_pred, t, schedule)
    clip = AD.clip_range(clip_x0)
    guidance, gamma = AD.guidance(guidance), A.real("guidance_scale", guidance_scale)
    z = _noise(noise, rng, x_t)
    return _step(x_t, eps_pred, t, schedule, z, clip, guidance, gamma)


def _check_sample_noise(noise: object, rng: object, shape: tuple[int, ...]) -> np.ndarray | None:
    """The sampler's standard normals of ``shape`` (or None: drawn from ``rng``; exactly one of them)."""
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        noise = _check_data("noise", noise)
        C.check_shape("noise", noise, shape)
    return noise


def ddpm_sample(
    eps_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    shape: tuple[int, ...],
    schedule: Schedule,
    noise: np.ndarray | None = None,
    *,
    rng=None,
    clip_x0: tuple[float, float] | None = None,
    progress: bool = False,
    guidance: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    guidance_scale: float = 1.0,
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
    guidance : callable, optional
        Classifier guidance (L14 'Guided sampling', algorithm 1): every step is
        x_{t-1} = mu + gamma beta_tilde_t g + sqrt(beta_tilde_t) z with g = guidance(mu, t) (see :func:`ddpm_step`).
    guidance_scale : float
        gamma.

    Returns
    -------
    (n, ...) ndarray
        x_0.

    Notes
    -----
    A chain whose state turns non-finite (eps_fn returned NaN or inf, or the states overflowed) raises
    a ``ValueError`` saying that the chain diverged; the state is checked after every step, so a
    non-finite state never reaches eps_fn (the accelerated side checks once, after the loop, with the
    same message).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Sampling'; Lecture 14, slide 'Guided sampling' (with ``guidance``,
    algorithm 1); Ho, Jain, Abbeel, NeurIPS 2020, Algorithm 2.

    Examples
    --------
    T = 1 and eps = 0: x_0 = x_T / sqrt(alpha_1) = 0.9 / sqrt(0.9) (one noise-free step):

    >>> ddpm_sample(lambda x, t: 0 * x, (1, 1), Schedule(np.array([0.1])), np.full((1, 1, 1), 0.9)).item()
    0.9487
    """
    eps_fn, shape, clip = AD.model(eps_fn), AD.sample_shape(shape), AD.clip_range(clip_x0)
    guidance, gamma = AD.guidance(guidance), A.real("guidance_scale", guidance_scale)
    schedule = _check_schedule(schedule)
    noise = _check_sample_noise(noise, rng, (schedule.T, *shape))
    T = schedule.T
    x = noise[0] if noise is not None else rng.standard_normal(shape)
    zeros = np.zeros(shape)
    for k in AD.progress(range(T), progress, "DDPM sampling"):
        t = T - 1 - k
        tt = np.full(shape[0], t, dtype=np.int64)
        eps = C.as_float64("eps_fn(x_t, t)", eps_fn(x, tt))
        if eps.shape != shape:
            raise ValueError(f"eps_fn(x_t, t): expected an output of shape {shape}, got shape {eps.shape}")
        if t == 0:
            z = zeros
        else:
            z = noise[k + 1] if noise is not None else rng.standard_normal(shape)
        x = _step(x, eps, tt, schedule, z, clip, guidance, gamma)
        if not np.all(np.isfinite(x)):
            raise ValueError(AD.DIVERGED)
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
    Isachenko, DGM Lecture 14, recap 'DDPM objective' (s = -eps / sqrt(1 - alpha_bar));
    Ho, Jain, Abbeel, NeurIPS 2020, Section 3.2.

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): for N(0, I) data eps* = sqrt(1 - alpha_bar) x_t, 0.8
    x_t at position 2:

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> GaussianEps(np.zeros(1), np.eye(1), S)(np.array([[1.0]]), np.array([2])).item()
    0.8
    """

    def __init__(self, mean: np.ndarray, cov: np.ndarray, schedule: Schedule) -> None:
        mean, cov = _check_data("mean", mean), C.as_float64("cov", cov)
        if mean.ndim != 1:
            raise ValueError(f"mean: expected a vector of shape (d,), got shape {mean.shape}")
        if mean.shape[0] == 0:  # d = 0 would otherwise be refused as a cov of the wrong shape
            raise ValueError("mean: expected at least one dimension, got shape (0,)")
        C.check_shape("cov", cov, (mean.shape[0], mean.shape[0]))
        C.cholesky_spd("cov", cov)
        self.schedule = _check_schedule(schedule)
        self.mean = mean
        self.cov = cov
        self.eigenvalues, self.eigenvectors = np.linalg.eigh(cov)

    def __call__(self, x_t: np.ndarray, t: np.ndarray) -> np.ndarray:
        x_t = _check_data("x_t", x_t)
        if x_t.ndim != 2 or x_t.shape[1] != self.mean.shape[0]:
            raise ValueError(f"x_t: expected shape (n, {self.mean.shape[0]}), got shape {x_t.shape}")
        t = _check_positions(t, self.schedule, x_t, "x_t")
        alpha_bar = _at(self.schedule, "alpha_bars", t, x_t)
        Q = self.eigenvectors
        y = (x_t - np.sqrt(alpha_bar) * self.mean) @ Q
        one_minus_alpha_bar = _at(self.schedule, "one_minus_alpha_bars", t, x_t)
        y = y * (np.sqrt(one_minus_alpha_bar) / (alpha_bar * self.eigenvalues + one_minus_alpha_bar))
        return y @ Q.T
