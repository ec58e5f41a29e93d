"""Helpers of the Langevin theorem checks (private): deck shorthands, per-side generators and modules."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import torch

from crosscheck.registry import Side

L7 = "L7"
L13 = "L13"
BEIGY = "Beigy"


def _rng(side: Side, seed: int) -> Any:
    if side.name == "reference":
        return np.random.default_rng(seed)
    return torch.Generator(device=side.device).manual_seed(seed)


def _lib(side: Side, topic: str) -> Any:
    """``side.lib.<topic>``, imported by name (works before the topic is listed in the package's TOPICS)."""
    return importlib.import_module(f"{side.name}.{topic}")
