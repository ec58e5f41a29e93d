"""Tensor checks and helpers shared by the score-matching submodules (accelerated side).

Each check has a namesake with the same arguments, returns and errors in
``reference/score_matching/_common.py``; the pure-Python argument checks both sides share are in
:mod:`reference._args.score_matching`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

import reference._args.score_matching as SA

from .. import _checks as C

Model = Callable[..., torch.Tensor]
MODEL_EXAMPLE = " (e.g. an nn.Module)"  # for SA.check_model's message


def _samples(name: str, x: object) -> torch.Tensor:
    """A floating tensor of samples (n, ...), n >= 1 and at least one feature (metadata only).

    Finiteness is asserted on the result of each objective (see :func:`_checked`): a NaN or inf in
    the samples reaches it, and one reduction of a scalar replaces a pass over the data.
    """
    x = C.as_float_tensor(name, x)
    if x.ndim == 0 or x.shape[0] == 0 or x[0].numel() == 0:
        raise ValueError(
            f"{name}: expected samples of shape (n, ...) with n >= 1 and features, got shape {tuple(x.shape)}"
        )
    return x


def _scores(model: Model, x: torch.Tensor, *cond: torch.Tensor) -> torch.Tensor:
    """model(x[, cond]), checked to be a floating tensor of the shape of x (its dtype may differ: autocast)."""
    s = model(x, *cond)
    if not isinstance(s, torch.Tensor) or s.shape != x.shape:
        got = f"shape {tuple(s.shape)}" if isinstance(s, torch.Tensor) else C.describe(s)
        raise ValueError(f"model: expected scores of the shape of x {tuple(x.shape)}, got {got}")
    if not s.is_floating_point():
        raise TypeError(f"model: expected floating-point scores, got {C.describe(s)}")
    return s


def _features(x: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(1, x.ndim))


def _sum_features(x: torch.Tensor) -> torch.Tensor:
    """Sum over every axis after the first (one value per sample)."""
    return x.sum(dim=_features(x)) if x.ndim > 1 else x


def _half_squared_norm_mean(r: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """(1/n) sum_i w_i (1/2) ||r_i||^2 over the feature axes, accumulated in at least float32.

    Without a weight the per-sample norms are never formed: one square and one sum of all entries.
    """
    r = r.to(C.accumulation_dtype(r.dtype))
    n = r.shape[0]
    if weight is None:
        return r.square().sum().mul(0.5 / n)
    return (_sum_features(r.square()) * weight).sum().mul(0.5 / n)


def _checked(value: torch.Tensor, inputs: tuple[tuple[str, torch.Tensor], ...]) -> torch.Tensor:
    """Assert on the device that an objective's value is finite (no host read).

    Every input (samples, noise, probes, the model's output) enters the value through sums with
    finite positive weights, so a NaN or inf in any of them, or an overflow, makes it non-finite; the
    failure path (CPU, or ``value_checks("sync")``) names the first non-finite input, as the reference
    side's entry checks do.
    """
    if value.numel() and C.value_checks_active():
        C.require(C.result_flag(value), _objective_message, _objective_detail, value, inputs)
    return value


def _objective_message(value: torch.Tensor, inputs: tuple[tuple[str, torch.Tensor], ...]) -> str:
    return f"{', '.join(n for n, _ in inputs)}: expected finite values (the objective is not finite)"


def _objective_detail(value: torch.Tensor, inputs: tuple[tuple[str, torch.Tensor], ...]) -> str:
    for name, x in inputs:
        bad = C.count_non_finite(x) if x.numel() else 0
        if bad:
            return f"{name}: expected finite values, got {bad} NaN or infinite entries"
    dtype = str(value.dtype).removeprefix("torch.")  # "float64", as on the reference side
    return f"{', '.join(n for n, _ in inputs)}: the objective overflowed {dtype} from finite inputs"


def _probes(x: torch.Tensor, count_name: str, count: object, kind: object, noise: object, rng: object) -> torch.Tensor:
    """Probe vectors v of shape (M, n, ...): the given ``noise`` (checked) or M draws of ``kind`` from ``rng``."""
    M, kind = SA.probe_arguments(count_name, count, kind)
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        C.check_generator(rng, x.device)
        shape = (1 if M is None else M, *x.shape)
        if kind == "gaussian":
            return torch.randn(shape, generator=rng, device=x.device, dtype=x.dtype)
        signs = torch.randint(0, 2, shape, generator=rng, device=x.device).to(dtype=x.dtype)
        return 2.0 * signs - 1.0
    v = C.as_float_tensor("noise", noise)
    C.check_same_device_dtype(("x", "noise"), (x, v))
    if v.ndim != x.ndim + 1 or v.shape[1:] != x.shape or v.shape[0] == 0 or (M is not None and v.shape[0] != M):
        raise ValueError(SA.probes_message(count_name, M, tuple(x.shape), tuple(v.shape)))
    if kind == "rademacher" and C.value_checks_active():
        C.require(
            (v.detach().abs() == 1.0).all(),
            "noise: expected Rademacher probes (every entry -1 or +1) for kind='rademacher'",
        )
    return v


def _standard_normals(name: str, noise: object, rng: object, x: torch.Tensor) -> torch.Tensor:
    """Standard normals of x's shape, dtype and device: the given ``noise`` (checked) or drawn from ``rng``."""
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        C.check_generator(rng, x.device)
        return torch.randn(x.shape, generator=rng, device=x.device, dtype=x.dtype)
    eps = C.as_float_tensor(name, noise)
    C.check_same_device_dtype(("x", name), (x, eps))
    C.check_shape(name, eps, x.shape)
    # Given noise is checked on entry (one device-side reduction, no host read), as on the reference:
    # a model that checks its own input (MLPScore) would otherwise blame "x" for NaN noise in x + sigma eps.
    C.check_finite(name, eps)
    return eps


def _check_probes(
    model: object, x: object, count_name: str, count: object, kind: object, noise: object, rng: object
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, v) of the probe-based estimators: a callable model, samples and (M, n, ...) probes."""
    SA.check_model(model, MODEL_EXAMPLE)
    x = _samples("x", x)
    return x, _probes(x, count_name, count, kind, noise, rng)


def _sigma_table(sigmas: object, x: torch.Tensor) -> torch.Tensor:
    """NCSN levels sigma_1 > ... > sigma_L > 0 on x's device, in x's dtype.

    Checked on the device, once per table: the same tensor, unchanged (its version counter), is not
    checked again at the next training step.
    """
    sigmas = C.as_float_tensor("sigmas", sigmas)
    if sigmas.ndim != 1 or sigmas.shape[0] == 0:
        raise ValueError(f"sigmas: expected a vector of noise levels of shape (L,), got shape {tuple(sigmas.shape)}")
    if sigmas.device != x.device:
        raise ValueError(
            f"sigmas: expected the noise levels on x's device {x.device}, got {sigmas.device} "
            "(move the table once with sigmas.to(device))"
        )
    if C.value_checks_active() and not C.validated(sigmas, "ncsn sigmas"):
        s = sigmas.detach()
        ok = (s.amin() > 0) & (s.amax() < math.inf)
        if s.shape[0] > 1:
            ok = ok & (s[1:] < s[:-1]).all()

        def detail() -> str:
            if C.count_non_finite(s):
                return f"sigmas: expected finite values, got {C.count_non_finite(s)} NaN or infinite entries"
            if bool((s <= 0).any()):
                return f"sigmas: expected positive noise levels, got min {float(s.min())!r}"
            return f"sigmas: expected strictly decreasing noise levels sigma_1 > ... > sigma_L (NCSN), got {s.tolist()}"

        C.require(ok, "sigmas: expected finite, positive, strictly decreasing noise levels (NCSN)", detail)
        C.mark_validated(sigmas, "ncsn sigmas")  # a training loop passes the same table every step
    return sigmas if sigmas.dtype == x.dtype else sigmas.to(x.dtype)


def _per_sample(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-sample (n,) tensor as (n, 1, ..., 1), to broadcast over x's feature axes (a view)."""
    return value.view((x.shape[0],) + (1,) * (x.ndim - 1))


def _noise_levels(sigma: float, x: torch.Tensor) -> torch.Tensor:
    """The model-call protocol: one noise level per sample, shape (n,), in x's dtype on x's device."""
    return torch.full((x.shape[0],), sigma, dtype=x.dtype, device=x.device)
