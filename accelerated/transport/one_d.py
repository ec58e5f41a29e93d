r"""W_p on the real line through quantile functions, and the sliced W_p built on it, in PyTorch.

Same formulas as :mod:`reference.transport.one_d` (Isachenko, DGM Lecture 7, slide 'Wasserstein
metric'). The sorts run in the input dtype; the quantile integral in float64. Batched over leading
axes; differentiable in the samples and the weights.
"""

from __future__ import annotations

import torch

from reference._args import transport as S

from .. import _checks as C
from ._common import F64, _check_clouds, _safe_root

__all__ = ["sliced_wasserstein", "wasserstein_1d"]


def _check_samples(u: object, v: object, u_weights: object, v_weights: object, p: object):
    """Two batches of weighted 1-D samples and the order p, checked and expanded to one batch.

    u (..., n), v (..., m): finite samples along the last axis; u_weights, v_weights: ``None`` or
    probability vectors along the last axis; one dtype and device; every batch axis expanded to the
    common batch. Returns ``(u, v, u_weights, v_weights, p)``.
    """
    p = S.order(p)
    names, tensors = ["u", "v"], [C.as_float_tensor("u", u), C.as_float_tensor("v", v)]
    for name, w in (("u_weights", u_weights), ("v_weights", v_weights)):
        if w is not None:
            names.append(name)
            tensors.append(C.as_float_tensor(name, w))
    C.check_same_device_dtype(names, tensors)
    u, v = tensors[0], tensors[1]
    for name, s in (("u", u), ("v", v)):
        C.check_ndim(name, s, 1)
        if s.shape[-1] == 0:
            raise ValueError(f"{name}: expected at least one sample along the last axis, got shape {tuple(s.shape)}")
        C.check_finite(name, s)
    shapes = [u.shape[:-1], v.shape[:-1]]
    for name, w, s in (("u_weights", u_weights, u), ("v_weights", v_weights, v)):
        if w is not None:
            C.check_simplex(name, w)
            if w.shape[-1] != s.shape[-1]:
                raise ValueError(
                    f"{name}: expected {s.shape[-1]} weights along the last axis (one per sample), "
                    f"got shape {tuple(w.shape)}"
                )
            shapes.append(w.shape[:-1])
    batch = C.broadcast_batch(names, shapes)
    u = u.expand(*batch, u.shape[-1])
    v = v.expand(*batch, v.shape[-1])
    u_w = None if u_weights is None else u_weights.expand(*batch, u.shape[-1])
    v_w = None if v_weights is None else v_weights.expand(*batch, v.shape[-1])
    return u, v, u_w, v_w, p


def _cdf(w: torch.Tensor | None, order: torch.Tensor, n: int, like: torch.Tensor) -> torch.Tensor:
    """Cumulative weights (float64) of the sorted samples, ending at exactly 1."""
    if w is None:
        steps = torch.arange(1, n + 1, dtype=F64, device=like.device) / n
        return steps.expand(*order.shape)
    cum = torch.gather(w, -1, order).to(F64).cumsum(-1)
    return cum / cum[..., -1:]


def _quantile_cost(
    u: torch.Tensor, u_w: torch.Tensor | None, v: torch.Tensor, v_w: torch.Tensor | None, p: float
) -> torch.Tensor:
    """Batched W_p^p along the last axis (float64), shapes already broadcast to a common batch."""
    n, m = u.shape[-1], v.shape[-1]
    u_sorted, order_u = torch.sort(u, dim=-1, stable=True)
    v_sorted, order_v = torch.sort(v, dim=-1, stable=True)
    F = _cdf(u_w, order_u, n, u).contiguous()
    G = _cdf(v_w, order_v, m, v).contiguous()
    s, _ = torch.sort(torch.cat([F, G], dim=-1), dim=-1)
    s_left = torch.cat([torch.zeros_like(s[..., :1]), s[..., :-1]], dim=-1)
    ds = s - s_left
    mid = (0.5 * (s + s_left)).contiguous()
    i_u = torch.searchsorted(F, mid, side="left").clamp_(max=n - 1)
    i_v = torch.searchsorted(G, mid, side="left").clamp_(max=m - 1)
    gap = (torch.gather(u_sorted, -1, i_u).to(F64) - torch.gather(v_sorted, -1, i_v).to(F64)).abs()
    return (ds * gap**p).sum(-1)


def _check_cost(names: str, cost: torch.Tensor, p: float) -> None:
    """W_p^p must be finite (device-side assertion, no host read): an overflow is a ValueError naming ``names``."""
    if cost.numel() == 0 or not C.value_checks_active():
        return
    C.require(
        C.result_flag(cost),
        f"{names}: the cost |F^-1 - G^-1|^p overflows float64 (W_p^p is not finite at p = {p!r}); "
        "expected samples whose differences to the power p stay below the largest float (rescale them)",
    )


def wasserstein_1d(
    u: torch.Tensor,
    v: torch.Tensor,
    *,
    p: float = 1,
    u_weights: torch.Tensor | None = None,
    v_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Exact W_p between weighted 1-D empirical measures via quantile functions, batched.

    .. math::

        W_p(\mu, \nu) = \Big( \int_0^1 \big| F^{-1}(s) - G^{-1}(s) \big|^p \, ds \Big)^{1/p}.

    Parameters
    ----------
    u : (..., n) Tensor
    v : (..., m) Tensor
        Samples along the last axis; batch axes broadcast.
    p : float >= 1
    u_weights, v_weights : (..., n) and (..., m) Tensor, optional
        Probability vectors (``None``: uniform); batch axes broadcast. One dtype and device for all.

    Returns
    -------
    (...) Tensor
        W_p in the input dtype.

    Notes
    -----
    The sorts run in the input dtype; the CDFs, interval lengths and the sum in float64, cast back at
    the end. The root has gradient 0 (not NaN) where W_p = 0. A W_p^p that is not finite in float64
    (differences to the power p that overflow) is a ValueError naming u and v (a device-side
    assertion), as in the reference.

    Examples
    --------
    1/4 delta_0 + 3/4 delta_1 against delta_0: mass 3/4 moves by 1, so W_1 = 3/4 (by hand):

    >>> u, v, w = torch.tensor([0.0, 1.0]), torch.tensor([0.0]), torch.tensor([0.25, 0.75])
    >>> float(wasserstein_1d(u, v, u_weights=w))
    0.75
    """
    u, v, u_w, v_w, p = _check_samples(u, v, u_weights, v_weights, p)
    cost = _quantile_cost(u, u_w, v, v_w, p)
    _check_cost("u and v", cost, p)
    return _safe_root(cost, p).to(u.dtype)


def _check_projections(projections: object, rng: object, n_projections: object, x: torch.Tensor) -> torch.Tensor:
    """The (d, L) matrix of directions, not yet normalised: ``projections`` checked (finite, d rows,
    L = n_projections columns if given, the dtype and device of x), or L = n_projections (default 50)
    standard normal draws of the ``torch.Generator`` ``rng``; exactly one of the two."""
    C.check_noise_or_rng(projections, rng, noise_name="projections")
    d = x.shape[1]
    if projections is None:
        C.check_generator(rng, x.device)
        L = S.n_projections(n_projections, None)
        return torch.randn((d, L), generator=rng, dtype=x.dtype, device=x.device)
    theta = C.as_float_tensor("projections", projections)
    C.check_same_device_dtype(("x", "projections"), (x, theta))
    if theta.ndim != 2 or theta.shape[0] != d or theta.shape[1] == 0:
        raise ValueError(f"projections: expected shape (d, L) = ({d}, L) with L >= 1, got shape {tuple(theta.shape)}")
    C.check_finite("projections", theta)
    S.n_projections(n_projections, theta.shape[1])
    return theta


def _unit_directions(theta: torch.Tensor) -> torch.Tensor:
    """theta_l = z_l / ||z_l|| column-wise, in float64 (ValueError on a zero column, with value checks on)."""
    theta = theta.to(F64)
    top = theta.abs().max(0).values
    if C.value_checks_active() and bool((top == 0).any()):
        raise ValueError(f"projections: expected non-zero columns (directions), got {int((top == 0).sum())} zero")
    theta = theta / top  # scale first, as in the reference
    return theta / (theta * theta).sum(0).sqrt()


def sliced_wasserstein(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    p: float = 2,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    n_projections: int | None = None,
    projections: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Monte-Carlo sliced W_p (see :func:`reference.transport.sliced_wasserstein`).

    .. math::

        \mathrm{SW}_p \approx \Big( \frac1L \sum_{l} W_p^p(\langle\theta_l, x\rangle,
        \langle\theta_l, y\rangle) \Big)^{1/p}, \quad \theta_l = z_l / \|z_l\|.

    ``projections`` (d, L) are normalised column-wise here; with ``rng`` (a ``torch.Generator`` on the
    inputs' device) a (d, L) standard normal matrix is drawn, L = ``n_projections`` (default 50).

    Parameters
    ----------
    x : (n, d) Tensor
    y : (m, d) Tensor
    p : float >= 1
    a, b : (n,) and (m,) Tensor, optional
    n_projections : int, optional
    projections : (d, L) Tensor, optional
    rng : torch.Generator, optional

    Returns
    -------
    () Tensor
        The estimate of SW_p in the input dtype.

    Notes
    -----
    The projections and the L one-dimensional problems (batched) are computed in float64; each
    direction is divided by its largest entry before its norm is taken, as in the reference. A W_p^p
    that overflows float64 is a ValueError naming x and y (a device-side assertion).

    Examples
    --------
    In d = 1 every direction is +-1 and SW_p = W_p; two points shifted by 2 are at SW_2 = 2 (by hand):

    >>> x = torch.tensor([[0.0], [1.0]])
    >>> float(sliced_wasserstein(x, x + 2.0, projections=torch.tensor([[1.0, -1.0]])))
    2.0
    """
    x, y, a, b, p = _check_clouds(x, y, a, b, p)
    z = _check_projections(projections, rng, n_projections, x)  # (d, L): given, or drawn from rng
    theta = _unit_directions(z)
    x_proj, y_proj = (x.to(F64) @ theta).T, (y.to(F64) @ theta).T  # (L, n), (L, m)
    L = theta.shape[1]
    a_w = None if a is None else a.expand(L, x.shape[0])
    b_w = None if b is None else b.expand(L, y.shape[0])
    mean = _quantile_cost(x_proj, a_w, y_proj, b_w, p).mean()
    _check_cost("x and y", mean, p)  # a non-finite term makes the mean non-finite
    return _safe_root(mean, p).to(x.dtype)
