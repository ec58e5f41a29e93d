"""Argument checks of the GAN formulas that both sides share (pure Python: no arrays, no formula).

Loss kinds, the sample axis of a batch, the input size of a tanh critic and the settings of the
classifier two-sample test (held-out counts, weight decay, Newton limits) are refused alike by
:mod:`reference.gan` and :mod:`accelerated.gan`; each side passes shapes as tuples of Python ints.
"""

from __future__ import annotations

import reference._args as A

__all__ = [
    "DISCRIMINATOR_LOSS_KINDS",
    "GENERATOR_LOSS_KINDS",
    "critic_input",
    "loss_kind",
    "per_sample",
    "samples",
    "two_sample_settings",
]

DISCRIMINATOR_LOSS_KINDS = ("cross_entropy", "hinge")
GENERATOR_LOSS_KINDS = ("minimax", "non_saturating", "hinge")


def loss_kind(kind: object, kinds: tuple[str, ...]) -> str:
    """A loss kind: a str among ``kinds`` (TypeError for a non-str, ValueError for an unknown one).

    >>> loss_kind("hinge", DISCRIMINATOR_LOSS_KINDS)
    'hinge'
    """
    if not isinstance(kind, str):
        raise TypeError(f"kind: expected a str, one of {kinds}, got {A.describe(kind)}")
    if kind not in kinds:
        raise ValueError(f"kind: expected one of {kinds}, got {kind!r}")
    return kind


def per_sample(name: str, shape: tuple[int, ...]) -> int:
    """The number n of per-sample values of shape (n,) or (n, 1), n >= 1.

    >>> per_sample("logits_fake", (5, 1))
    5
    """
    if not ((len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)) and shape[0] > 0):
        raise ValueError(
            f"{name}: expected shape (n,) or (n, 1), one value per sample along the first axis (n >= 1), "
            f"got shape {shape}"
        )
    return shape[0]


def samples(name: str, shape: tuple[int, ...]) -> int:
    """The number n >= 1 of samples of a batch of shape (n, ...).

    >>> samples("x_real", (4, 3, 2))
    4
    """
    if len(shape) < 1:
        raise ValueError(f"{name}: expected at least 1 dimension(s), got shape {shape}")
    if shape[0] == 0:
        raise ValueError(f"{name}: expected at least one sample along the first axis, got shape {shape}")
    return shape[0]


def critic_input(name: str, shape: tuple[int, ...], W_shape: tuple[int, int]) -> int:
    """The number of samples of a tanh critic's input (n, ...) with D = W_shape[0] features in all."""
    n = samples(name, shape)
    features = 1
    for s in shape[1:]:
        features *= s
    if features != W_shape[0]:
        raise ValueError(
            f"{name}: expected samples with {W_shape[0]} features in all (W has shape {W_shape}), got shape {shape}"
        )
    return n


def two_sample_settings(
    n_x: int, n_y: int, test_fraction: object, weight_decay: object, max_iter: object, tol: object
) -> tuple[int, int, float, int, float]:
    """Held-out counts round(test_fraction * n) per set (Python round: half to even) and the solver settings.

    Returns ``(m_x, m_y, weight_decay, max_iter, tol)``; each set keeps at least one training and one
    held-out point.

    >>> two_sample_settings(10, 7, 0.5, 1e-2, 100, 1e-10)
    (5, 4, 0.01, 100, 1e-10)
    """
    test_fraction = A.unit_interval("test_fraction", test_fraction, open_low=True, open_high=True)
    weight_decay = A.positive("weight_decay", weight_decay)
    tol = A.positive("tol", tol)
    max_iter = A.count("max_iter", max_iter)
    m_x, m_y = round(test_fraction * n_x), round(test_fraction * n_y)
    for name, n, m in (("x", n_x, m_x), ("y", n_y, m_y)):
        if not 0 < m < n:
            raise ValueError(
                f"{name} / test_fraction: expected at least one training and one held-out point from {name}, "
                f"got {n} samples and test_fraction {test_fraction} ({m} held out)"
            )
    return m_x, m_y, weight_decay, max_iter, tol
