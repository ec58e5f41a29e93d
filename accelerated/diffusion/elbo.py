r"""ELBO terms: the Gaussian KL, L_t and its eps weight, L_simple, the prior KL and the NCSN-weighted DSM loss.

The decoder's reconstruction term and the assembled NLL bound are in :mod:`accelerated.diffusion.likelihood`.

Part of :mod:`accelerated.diffusion` (PyTorch); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (L_t as a KL between Gaussians, the
prior term), 'Reparametrization' (the weight of ||eps - eps_theta||^2), 'Simplified objective' and
'Training' (L_simple), 'DDPM vs NCSN' (the sigma^2-weighted denoising score matching loss).
"""

from __future__ import annotations

import torch

import reference._args as A
import reference._args.diffusion as AD

from .. import _checks as C
from .._checks import _HALF
from ._inputs import (
    _F64,
    _at,
    _check_data,
    _check_device,
    _check_positions,
    _check_same,
    _check_schedule,
    _check_triple,
    _check_values,
    _checked,
    _gather,
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


def _kl_terms(mean_q, var_q, mean_p, var_p) -> torch.Tensor:
    ratio, r = var_q / var_p, (var_q - var_p) / var_p
    variance_term = torch.where(r.abs() < 0.5, r - torch.log1p(r), ratio - 1.0 - torch.log(ratio))
    return 0.5 * (variance_term + (mean_q - mean_p) ** 2 / var_p)


def gaussian_kl(mean_q: torch.Tensor, var_q: torch.Tensor, mean_p: torch.Tensor, var_p: torch.Tensor) -> torch.Tensor:
    r"""KL(N(mean_q, var_q I) || N(mean_p, var_p I)) per batch element, summed over the feature axes.

    .. math::

        \mathrm{KL} = \frac12 \sum_i \Bigl[\frac{\sigma_q^2}{\sigma_p^2} - 1 - \log\frac{\sigma_q^2}{\sigma_p^2}
        + \frac{(\mu_{q,i} - \mu_{p,i})^2}{\sigma_p^2}\Bigr].

    Parameters
    ----------
    mean_q, mean_p : (n, ...) Tensor
    var_q : Tensor
        > 0, broadcast against the means.
    var_p : Tensor
        > 0, broadcast against the means.

    Returns
    -------
    (n,) Tensor
        KL in nats.

    Notes
    -----
    The variance term is evaluated as r - log1p(r), r = (var_q - var_p) / var_p, for |r| < 1/2 and as
    ratio - 1 - log(ratio) otherwise (see the reference); the sum accumulates in float64 and is cast
    back to the inputs' dtype.

    Variances that are not positive are refused with a ``ValueError`` naming them, and so is a KL that
    is not finite from finite inputs (means at 1e300: "the result overflowed"), as on the reference; the
    result is checked by one device assertion (no host read).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (5).

    Examples
    --------
    KL(N(0, 1) || N(1, 1)) = (0 - 1)^2 / 2 (closed form):

    >>> gaussian_kl(
    ...     torch.tensor([[0.0]], dtype=torch.float64),
    ...     torch.tensor([[1.0]], dtype=torch.float64),
    ...     torch.tensor([[1.0]], dtype=torch.float64),
    ...     torch.tensor([[1.0]], dtype=torch.float64),
    ... ).item()
    0.5
    """
    names = ("mean_q", "var_q", "mean_p", "var_p")
    tensors = tuple(_check_data(n, x) for n, x in zip(names, (mean_q, var_q, mean_p, var_p)))
    dtype = C.promoted_dtype(names, tensors)  # a learned variance may come out of autocast in half precision
    shape = C.broadcast_batch(names, tuple(x.shape for x in tensors))
    if len(shape) == 0:
        raise ValueError("mean_q, mean_p: expected a batch axis (shape (n, ...)), got scalars")
    mean_q, var_q, mean_p, var_p = (x.to(C.accumulation_dtype(dtype)) for x in tensors)
    if C.value_checks_active():
        extra = (
            ((var_q > 0).all(), lambda: f"var_q: expected variances > 0, got min {float(var_q.min())!r}"),
            ((var_p > 0).all(), lambda: f"var_p: expected variances > 0, got min {float(var_p.min())!r}"),
        )
        _check_values(None, 0, tuple(zip(names, tensors)), extra=extra)
    kl = _kl_terms(mean_q, var_q, mean_p, var_p)
    return _checked(_sum_features(kl.expand(shape)).to(C.accumulation_dtype(dtype)), tuple(zip(names, tensors)))


def elbo_weight(t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""Weight of ||eps - eps_theta||^2 in L_t: (1 - alpha_t)^2 / (2 beta_tilde_t alpha_t (1 - alpha_bar_t)).

    .. math::

        \lambda_t = \frac{(1 - \alpha_t)^2}{2 \tilde\beta_t \alpha_t (1 - \bar\alpha_t)}.

    Positions 1..T-1 only (position 0 is the reconstruction term; refused).

    Parameters
    ----------
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    () or (n,) Tensor
        float64 (the tables' dtype).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (12).

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): beta_2 / (2 alpha_2 (1 - alpha_bar_1)) = 0.2 / (2 *
    0.8 * 0.1):

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> elbo_weight(torch.tensor([1]), S).item()
    1.25
    """
    schedule = _check_schedule(schedule)
    t = _check_positions(t, schedule)
    _check_values(t, schedule.T, (), positions="1..T-1")
    return _elbo_weight(t, schedule)


def _elbo_weight(t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    T = schedule.T
    beta, alpha, beta_tilde = (_gather(getattr(schedule, n), t, T) for n in ("betas", "alphas", "beta_tilde"))
    return beta**2 / (2.0 * beta_tilde * alpha * _gather(schedule.one_minus_alpha_bars, t, T))


def l_t(x0: torch.Tensor, x_t: torch.Tensor, eps_pred: torch.Tensor, t: torch.Tensor, schedule: Schedule):
    r"""L_t = KL(q(x_{t-1} | x_t, x_0) || N(mu_theta(x_t, t), beta_tilde_t I)), as a Gaussian KL.

    .. math::

        \mathcal L_t = \frac{1}{2 \tilde\beta_t} \|\tilde\mu_t(x_t, x_0) - \mu_\theta(x_t, t)\|^2.

    Parameters
    ----------
    x0, x_t, eps_pred : (n, ...) Tensor
        One shape, dtype and device.
    t : () or (n,) int Tensor
        Positions 1..T-1.
    schedule : Schedule

    Returns
    -------
    (n,) Tensor
        KL in nats, in the inputs' dtype.

    Notes
    -----
    Evaluated in float64 (inputs upcast, result cast back; autograd flows through the casts): the two
    means agree to many digits and their difference is divided by beta_tilde_t.
    A result that is not finite from finite inputs (data at 1e300) is refused with a ``ValueError``
    saying the result overflowed, as on the reference (one device assertion of the result).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' and 'Reparametrization';
    Ho, Jain, Abbeel, NeurIPS 2020, eqs. (5), (8).

    Examples
    --------
    x_0 = 0, eps = 1 (x_t = sqrt(0.28) at position 1) and eps_theta = 0: elbo_weight * ||eps - eps_theta||^2 =
    1.25 (the theorem):

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> l_t(
    ...     torch.tensor([[0.0]], dtype=torch.float64),
    ...     torch.tensor([[0.28**0.5]], dtype=torch.float64),
    ...     torch.tensor([[0.0]], dtype=torch.float64),
    ...     torch.tensor([1]),
    ...     S,
    ... ).item()
    1.25
    """
    names = ("x0", "x_t", "eps_pred")
    x0, x_t, eps_pred, t, schedule = _check_triple(names, x0, x_t, eps_pred, t, schedule)
    _check_values(t, schedule.T, tuple(zip(names, (x0, x_t, eps_pred))), positions="1..T-1")
    dtype = C.accumulation_dtype(torch.promote_types(x0.dtype, eps_pred.dtype))
    data = tuple(zip(names, (x0, x_t, eps_pred)))
    kl = _l_t_unchecked(x0.to(_F64), x_t.to(_F64), eps_pred.to(_F64), t, schedule).to(dtype)
    return _checked(kl, data)


def _l_t_unchecked(x0, x_t, eps_pred, t, schedule) -> torch.Tensor:
    """L_t in float64 from float64 inputs (no checks)."""
    beta_tilde = _at(schedule, "beta_tilde", t, x0)
    mu_tilde = torch.addcmul(
        _at(schedule, "posterior_mean_coef_x0", t, x0) * x0, _at(schedule, "posterior_mean_coef_xt", t, x0), x_t
    )
    mu_theta = _p_mean(x_t, eps_pred, t, schedule)
    return _sum_features(_kl_terms(mu_tilde, beta_tilde, mu_theta, beta_tilde))


def l_simple(eps: torch.Tensor, eps_pred: torch.Tensor, *, reduction: str = "sum") -> torch.Tensor:
    r"""||eps - eps_theta||^2 per batch element, summed (the slide's) or averaged over the feature axes.

    .. math::

        \mathcal L_{\text{simple}} = \|\epsilon - \epsilon_\theta(x_t, t)\|^2
        \quad (\texttt{reduction="sum"}), \qquad
        \frac1D \|\epsilon - \epsilon_\theta(x_t, t)\|^2 \quad (\texttt{"mean"}, D \text{ features}).

    ``reduction="mean"`` is the convention of ``torch.nn.functional.mse_loss``:
    ``l_simple(eps, eps_pred, reduction="mean").mean()`` equals ``F.mse_loss(eps_pred, eps)``. It is D
    times smaller than the slide's sum, a factor that a learning rate absorbs.

    Mixed precision: ``eps_pred`` may come out of ``torch.autocast`` in a lower precision than ``eps``;
    the difference is formed in the promoted dtype and squared and summed in at least float32, the
    result's dtype (float32 for float16 / bfloat16 inputs, so a ``GradScaler`` cannot overflow it).
    The value check asserts on the device that the result is finite (no host read).

    Parameters
    ----------
    eps, eps_pred : (n, ...) Tensor
        Same shape and device; floating dtypes that may differ.
    reduction : {'sum', 'mean'}
        Over the feature axes; keyword only.

    Returns
    -------
    (n,) Tensor
        In the promoted dtype, float32 at least.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Simplified objective'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (14).

    Examples
    --------
    ||1 - 0||^2 over three features, summed (the slide's) and averaged:

    >>> l_simple(
    ...     torch.tensor([[1.0, 1.0, 1.0]], dtype=torch.float64), torch.tensor([[0.0, 0.0, 0.0]], dtype=torch.float64)
    ... ).item()
    3.0
    >>> l_simple(
    ...     torch.tensor([[1.0, 1.0, 1.0]], dtype=torch.float64),
    ...     torch.tensor([[0.0, 0.0, 0.0]], dtype=torch.float64),
    ...     reduction="mean",
    ... ).item()
    1.0
    """
    eps, eps_pred = _check_data("eps", eps, 1), _check_data("eps_pred", eps_pred, 1)
    _check_same(("eps", "eps_pred"), (eps, eps_pred), one_dtype=False)
    mean = A.option("reduction", reduction, AD.REDUCTIONS) == "mean"
    d = eps - eps_pred
    if d.dtype in _HALF:
        d = d.float()  # square and sum in float32: the loss is representable where a float16 square is not
    dims = tuple(range(1, d.ndim))
    r = d * d if not dims else (d.square().mean(dim=dims) if mean else d.square().sum(dim=dims))
    return _checked(r, (("eps", eps), ("eps_pred", eps_pred)))


def prior_kl(x0: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""KL(q(x_T | x_0) || N(0, I)) per batch element.

    .. math::

        \frac12 \Bigl[ D \bigl(-\bar\alpha_T - \log(1 - \bar\alpha_T)\bigr) + \bar\alpha_T \|x_0\|^2 \Bigr].

    Parameters
    ----------
    x0 : (n, ...) Tensor
        On the schedule's device.
    schedule : Schedule

    Returns
    -------
    (n,) Tensor
        KL in nats, in x0's dtype (float32 for float16 / bfloat16; the sum accumulated in float64).

    Notes
    -----
    An empty batch (n = 0) is refused with a ``ValueError`` naming ``x0``, as on the reference.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (5).

    Examples
    --------
    S: betas (0.1, 0.2, 0.5), alpha_bar (0.9, 0.72, 0.36): for x_0 = 0 the KL is (-0.36 - log 0.64) / 2 (closed
    form):

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> round(prior_kl(torch.tensor([[0.0]], dtype=torch.float64), S).item(), 6)
    0.043144
    """
    schedule = _check_schedule(schedule)
    x0 = _check_data("x0", x0, 1)
    AD.nonempty_batch("x0", tuple(x0.shape))
    _check_device("x0", x0, schedule)
    alpha_bar_T = schedule.alpha_bars[-1]
    D = x0[0].numel()
    kl = 0.5 * (D * (-alpha_bar_T - torch.log1p(-alpha_bar_T)) + alpha_bar_T * _sum_features(x0**2))
    return _checked(kl.to(C.accumulation_dtype(x0.dtype)), (("x0", x0),))


def weighted_dsm_loss(score: torch.Tensor, x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, schedule: Schedule):
    r"""NCSN's sigma^2-weighted DSM term on q(x_t | x_0): (1 - alpha_bar_t) ||s - grad log q(x_t | x_0)||^2.

    .. math::

        \sigma_t^2 \bigl\|s_\theta(x_t, t) - \nabla_{x_t} \log q(x_t \mid x_0)\bigr\|^2,
        \qquad \sigma_t^2 = 1 - \bar\alpha_t.

    See :func:`reference.diffusion.weighted_dsm_loss` for the identities with L_simple and L_t.

    Parameters
    ----------
    score, x_t, x0 : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n,) Tensor

    Notes
    -----
    Evaluated in float64 (the target subtracts nearly equal x_t and sqrt(alpha_bar) x_0 and divides by
    1 - alpha_bar); result in the inputs' dtype.

    References
    ----------
    Isachenko, DGM Lecture 13, 'Noise Conditioned Score Network (NCSN)' and 'DDPM vs NCSN';
    Song, Ermon, NeurIPS 2019, eq. (6).

    Examples
    --------
    x_0 = 0, eps = 1 (x_t = sqrt(0.28) at position 1) and s = 0: sigma^2 ||s - grad log q||^2 = ||eps||^2 = 1
    (the L_simple identity):

    >>> S = Schedule(torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64))
    >>> weighted_dsm_loss(
    ...     torch.tensor([[0.0]], dtype=torch.float64),
    ...     torch.tensor([[0.28**0.5]], dtype=torch.float64),
    ...     torch.tensor([[0.0]], dtype=torch.float64),
    ...     torch.tensor([1]),
    ...     S,
    ... ).item()
    1.0
    """
    names = ("x_t", "x0", "score")
    x_t, x0, score, t, schedule = _check_triple(names, x_t, x0, score, t, schedule)
    dtype = C.accumulation_dtype(torch.promote_types(x_t.dtype, score.dtype))
    data = tuple(zip(names, (x_t, x0, score)))
    score, x_t, x0 = score.to(_F64), x_t.to(_F64), x0.to(_F64)
    sigma2 = _at(schedule, "one_minus_alpha_bars", t, x_t)
    target = -(x_t - _at(schedule, "sqrt_alpha_bars", t, x_t) * x0) / sigma2
    return _checked(_sum_features(sigma2 * (score - target) ** 2).to(dtype), data)
