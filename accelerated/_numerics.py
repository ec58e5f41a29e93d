"""Stable elementary functions shared by the accelerated modules.

``torch.nn.functional.softplus`` computes log1p(exp(x)) below its ``threshold`` and x above it. That
is exact to rounding where the dropped log1p(exp(-x)) is below half an ulp of x: from x = 16 in
float32 (e^-16 = 1.1e-7 < 2^-24 16 = 9.5e-7), from x = 34 in float64 (e^-34 = 1.7e-15 < 2^-53 34 =
3.8e-15). Its default 20 is therefore exact in float32 and below, but off by 2e-9 at x = 20 in float64,
which a float64 reference comparison sees: :func:`softplus` passes 37 for float64. These forms are
accurate to an ulp for every input, including +-inf (softplus(-inf) = 0, softplus(inf) = inf), with
gradient sigmoid(x) everywhere, in one fused kernel (forward and backward).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + exp(x)) to an ulp (see the module docstring), gradient sigmoid(x) everywhere."""
    return F.softplus(x, threshold=37.0 if x.dtype == torch.float64 else 20.0)


def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """log(sigmoid(x)) = -softplus(-x)."""
    return -softplus(-x)
