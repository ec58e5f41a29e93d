"""Shared by the diffusion theorems: deck names, the side's diffusion module, standard schedules, positions."""

from __future__ import annotations

import importlib

import numpy as np

from crosscheck.registry import Side

L13 = "L13"
L14 = "L14"
EPS = float(np.finfo(np.float64).eps)
T = 1000


def _lib(side: Side):
    """The side's diffusion module (imported by name: it works before the topic is listed in TOPICS)."""
    return importlib.import_module(f"{side.name}.diffusion")


def _schedules(side: Side) -> dict[str, tuple[np.ndarray, object]]:
    """Linear and cosine T = 1000 schedules and a random T = 50 one: name -> (betas, side's Schedule)."""
    D = _lib(side)
    betas = {
        "linear T=1000": side.numpy(D.linear_beta_schedule(T)),
        "cosine T=1000": side.numpy(D.cosine_beta_schedule(T)),
        "random T=50": np.random.default_rng(13).uniform(1e-4, 0.3, 50),
    }
    return {name: (b, D.Schedule(side.array(b))) for name, b in betas.items()}


def _one_minus_alpha_bars(betas: np.ndarray) -> np.ndarray:
    """1 - prod(1 - beta) without cancellation (1 - np.cumprod loses ~1e-12 relative at beta = 1e-4)."""
    return -np.expm1(np.cumsum(np.log1p(-betas)))


def _positions(side: Side, values: np.ndarray) -> object:
    return side.array(np.asarray(values, dtype=np.int64))
