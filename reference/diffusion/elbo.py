r"""ELBO terms: the Gaussian KL, L_t and its eps weight, L_simple, the prior KL and the NCSN-weighted DSM loss.

The decoder's reconstruction term and the assembled NLL bound are in :mod:`reference.diffusion.likelihood`.

Part of :mod:`reference.diffusion` (NumPy, float64); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (L_t as a KL between Gaussians, the
prior term), 'Reparametrization' (the weight of ||eps - eps_theta||^2), 'Simplified objective' and
'Training' (L_simple), 'DDPM vs NCSN' (the sigma^2-weighted denoising score matching loss).
"""

from __future__ import annotations

import numpy as np

import reference._args as A
import reference._args.diffusion as AD

from .. import _checks as C
from ._inputs import (
    _at,
    _check_after_first,
    _check_data,
    _check_gaussians,
    _check_positions,
    _check_same,
    _check_schedule,
    _check_triple,
    _sum_features,
)
from .conversions import _p_mean
from .schedules import Schedule

__all__ = [
    "elbo_weight",
    "gaussian_kl",
    "l_simple",
    "l_t",
    "prior_kl",
    "weighted_dsm_loss",
]


def gaussian_kl(mean_q: np.ndarray, var_q: np.ndarray, mean_p: np.ndarray, var_p: np.ndarray) -> np.ndarray:
    r"""KL(N(mean_q, var_q I) || N(mean_p, var_p I)) per batch element, summed over the feature axes.

    .. math::

        \mathrm{KL} = \frac12 \sum_i \Bigl[\frac{\sigma_q^2}{\sigma_p^2} - 1 - \log\frac{\sigma_q^2}{\sigma_p^2}
        + \frac{(\mu_{q,i} - \mu_{p,i})^2}{\sigma_p^2}\Bigr].

    Variances may vary per element (diagonal Gaussians); the isotropic case passes one
    variance per batch element, e.g. of shape (n, 1, ..., 1) as :func:`q_posterior` returns it.

    Parameters
    ----------
    mean_q, mean_p : (n, ...) array_like
        Means.
    var_q : array_like
        Variances of q, > 0; broadcast against the means.
    var_p : array_like
        Variances of p, > 0; broadcast against the means.

    Returns
    -------
    (n,) ndarray
        KL in nats; the first axis of the broadcast shape is the batch axis, all others are summed.

    Notes
    -----
    The variance term is evaluated as r - log1p(r) with r = (var_q - var_p) / var_p where |r| < 1/2,
    which keeps its digits when the variances are nearly equal (it is r^2 / 2 there; var_q - var_p is
    exact), and as ratio - 1 - log(ratio) otherwise (log1p(r) would lose digits to 1 + r for
    var_q << var_p).

    A variance that is not positive is refused with a ``ValueError`` naming it (var_q = 0, a point mass
    against a Gaussian, has KL = +inf; an integer variance such as 0.3 that rounds to 0 lands here). A KL
    that is not finite from finite inputs (means at 1e300, whose squared difference overflows float64)
    is refused with a ``ValueError`` that says the result overflowed (:func:`reference._checks.check_result`).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (L_t and the prior term are
    KLs between isotropic Gaussians); Ho, Jain, Abbeel, NeurIPS 2020, eq. (5).

    Examples
    --------
    KL(N(0, 1) || N(1, 1)) = (0 - 1)^2 / 2 (closed form):

    >>> gaussian_kl(np.array([[0.0]]), np.array([[1.0]]), np.array([[1.0]]), np.array([[1.0]])).item()
    0.5
    """
    mean_q, var_q, mean_p, var_p, shape = _check_gaussians(mean_q, var_q, mean_p, var_p)
    kl = _gaussian_kl(mean_q, var_q, mean_p, var_p, shape)
    return C.check_result(kl, (("mean_q", mean_q), ("var_q", var_q), ("mean_p", mean_p), ("var_p", var_p)))


def _gaussian_kl(mean_q: np.ndarray, var_q: np.ndarray, mean_p: np.ndarray, var_p: np.ndarray, shape) -> np.ndarray:
    """The KL of :func:`gaussian_kl` on checked inputs, unchecked result."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        ratio, r = var_q / var_p, (var_q - var_p) / var_p
        variance_term = np.where(np.abs(r) < 0.5, r - np.log1p(r), ratio - 1.0 - np.log(ratio))
        kl = 0.5 * (variance_term + (mean_q - mean_p) ** 2 / var_p)
        return _sum_features(np.broadcast_to(kl, shape))


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

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): beta_2 / (2 alpha_2 (1 - alpha_bar_1)) = 0.2 / (2 *
    0.8 * 0.1):

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> elbo_weight(np.array([1]), S).item()
    1.25
    """
    schedule = _check_schedule(schedule)
    t = _check_after_first(_check_positions(t, schedule), schedule)
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

    Notes
    -----
    A result that is not finite from finite inputs (data at 1e300, whose square overflows float64) is
    refused with a ``ValueError`` saying the result overflowed (:func:`reference._checks.check_result`),
    as on the accelerated side.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' and 'Reparametrization';
    Ho, Jain, Abbeel, NeurIPS 2020, eqs. (5), (8).

    Examples
    --------
    x_0 = 0, eps = 1 (x_t = sqrt(0.28) at position 1) and eps_theta = 0: elbo_weight * ||eps - eps_theta||^2 =
    1.25 (the theorem):

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> l_t(np.array([[0.0]]), np.array([[0.28**0.5]]), np.array([[0.0]]), np.array([1]), S).item()
    1.25
    """
    x0, x_t, eps_pred, t, schedule = _check_triple(("x0", "x_t", "eps_pred"), x0, x_t, eps_pred, t, schedule)
    t = _check_after_first(t, schedule)
    kl = _l_t_unchecked(x0, x_t, eps_pred, t, schedule)
    return C.check_result(kl, (("x0", x0), ("x_t", x_t), ("eps_pred", eps_pred)))


def _l_t_unchecked(x0: np.ndarray, x_t: np.ndarray, eps_pred: np.ndarray, t: np.ndarray, schedule: Schedule):
    beta_tilde = _at(schedule, "beta_tilde", t, x0)
    mu_tilde = (
        _at(schedule, "posterior_mean_coef_x0", t, x0) * x0 + _at(schedule, "posterior_mean_coef_xt", t, x0) * x_t
    )
    mu_theta = _p_mean(x_t, eps_pred, t, schedule)
    return _gaussian_kl(mu_tilde, beta_tilde, mu_theta, beta_tilde, np.broadcast_shapes(mu_tilde.shape, mu_theta.shape))


def l_simple(eps: np.ndarray, eps_pred: np.ndarray, *, reduction: str = "sum") -> np.ndarray:
    r"""The simplified objective's term ||eps - eps_theta||^2, summed (the slide's) or averaged over features.

    .. math::

        \mathcal L_{\text{simple}} = \|\epsilon - \epsilon_\theta(\sqrt{\bar\alpha_t} x_0
        + \sqrt{1 - \bar\alpha_t} \epsilon, t)\|^2 \quad (\texttt{reduction="sum"}), \qquad
        \frac1D \|\epsilon - \epsilon_\theta\|^2 \quad (\texttt{"mean"}, D \text{ features}).

    ``reduction="mean"`` is the code of Ho et al. (``mean_flat``) and ``torch.nn.functional.mse_loss``
    (whose default mean over everything is the batch mean of this): the slide's value divided by the
    number of features. Average over the batch and over t yourself: L13's 'Simplified objective'
    writes t ~ U[2, T] (the KL terms only), its 'Training' slide and Ho et al. t ~ U[1, T] (positions
    0..T-1 here).

    Parameters
    ----------
    eps, eps_pred : (n, ...) array_like
        True and predicted noise, one shape.
    reduction : {'sum', 'mean'}
        Over the feature axes; keyword only.

    Returns
    -------
    (n,) ndarray

    Notes
    -----
    A result that is not finite from finite inputs (data at 1e300, whose square overflows float64) is
    refused with a ``ValueError`` saying the result overflowed (:func:`reference._checks.check_result`),
    as on the accelerated side.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Simplified objective' and 'Training' (step 4);
    Ho, Jain, Abbeel, NeurIPS 2020, eq. (14).

    Examples
    --------
    ||1 - 0||^2 over three features, summed (the slide's) and averaged:

    >>> l_simple(np.array([[1.0, 1.0, 1.0]]), np.array([[0.0, 0.0, 0.0]])).item()
    3.0
    >>> l_simple(np.array([[1.0, 1.0, 1.0]]), np.array([[0.0, 0.0, 0.0]]), reduction="mean").item()
    1.0
    """
    eps, eps_pred = _check_data("eps", eps, 1), _check_data("eps_pred", eps_pred, 1)
    _check_same(("eps", "eps_pred"), (eps, eps_pred))
    mean = A.option("reduction", reduction, AD.REDUCTIONS) == "mean"
    with np.errstate(over="ignore", invalid="ignore"):
        squared = (eps - eps_pred) ** 2
        out = squared.reshape(squared.shape[0], -1).mean(axis=1) if mean else _sum_features(squared)
    return C.check_result(out, (("eps", eps), ("eps_pred", eps_pred)))


def prior_kl(x0: np.ndarray, schedule: Schedule) -> np.ndarray:
    r"""The ELBO's prior term KL(q(x_T | x_0) || N(0, I)) per batch element (no parameters; ~0 for a good schedule).

    .. math::

        \mathrm{KL}\bigl(\mathcal N(\sqrt{\bar\alpha_T} x_0, (1 - \bar\alpha_T) I) \,\|\, \mathcal N(0, I)\bigr)
        = \frac12 \Bigl[ D \bigl(-\bar\alpha_T - \log(1 - \bar\alpha_T)\bigr) + \bar\alpha_T \|x_0\|^2 \Bigr].

    Parameters
    ----------
    x0 : (n, ...) array_like
    schedule : Schedule

    Returns
    -------
    (n,) ndarray
        KL in nats.

    Notes
    -----
    D is the number of features. The first bracket is evaluated as -alpha_bar_T - log1p(-alpha_bar_T)
    (about alpha_bar_T^2 / 2, no cancellation). An empty batch (n = 0) is refused with a ``ValueError``
    naming ``x0``.

    A result that is not finite from finite inputs (data at 1e300, whose square overflows float64) is
    refused with a ``ValueError`` saying the result overflowed (:func:`reference._checks.check_result`),
    as on the accelerated side.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (KL(q(x_T | x_0) || p(x_T)));
    Ho, Jain, Abbeel, NeurIPS 2020, eq. (5) (L_T).

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): for x_0 = 0 the KL is (-0.36 - log 0.64) / 2 (closed
    form):

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> round(prior_kl(np.array([[0.0]]), S).item(), 6)
    0.043144
    """
    schedule = _check_schedule(schedule)
    x0 = _check_data("x0", x0, 1)
    AD.nonempty_batch("x0", x0.shape)
    alpha_bar_T = schedule.alpha_bars[-1]
    D = x0[0].size
    with np.errstate(over="ignore", invalid="ignore"):
        kl = 0.5 * (D * (-alpha_bar_T - np.log1p(-alpha_bar_T)) + alpha_bar_T * _sum_features(x0**2))
    return C.check_result(kl, (("x0", x0),))


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

    Notes
    -----
    A result that is not finite from finite inputs (data at 1e300, whose square overflows float64) is
    refused with a ``ValueError`` saying the result overflowed (:func:`reference._checks.check_result`),
    as on the accelerated side.

    References
    ----------
    Isachenko, DGM Lecture 13, 'Noise Conditioned Score Network (NCSN)' and 'DDPM vs NCSN';
    Song, Ermon, Generative Modeling by Estimating Gradients of the Data Distribution, NeurIPS 2019, eq. (6).

    Examples
    --------
    x_0 = 0, eps = 1 (x_t = sqrt(0.28) at position 1) and s = 0: sigma^2 ||s - grad log q||^2 = ||eps||^2 = 1
    (the L_simple identity):

    >>> S = Schedule(np.array([0.1, 0.2, 0.5]))
    >>> weighted_dsm_loss(np.array([[0.0]]), np.array([[0.28**0.5]]), np.array([[0.0]]), np.array([1]), S).item()
    1.0
    """
    x_t, x0, score, t, schedule = _check_triple(("x_t", "x0", "score"), x_t, x0, score, t, schedule)
    sigma2 = _at(schedule, "one_minus_alpha_bars", t, x_t)
    with np.errstate(over="ignore", invalid="ignore"):
        target = -(x_t - _at(schedule, "sqrt_alpha_bars", t, x_t) * x0) / sigma2
        loss = _sum_features(sigma2 * (score - target) ** 2)
    return C.check_result(loss, (("x_t", x_t), ("x0", x0), ("score", score)))
