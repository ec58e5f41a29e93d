"""Argument checks of :mod:`reference.diffusion` and :mod:`accelerated.diffusion` (pure Python, no arrays).

Both sides check a schedule's length and ends, a respacing's step count, DDIM's eta, a clip range, a
reduction, a sample shape, a progress flag and a guidance scale here, so they refuse them alike (the
rule of :mod:`reference._args`: wrong type ``TypeError``, wrong value ``ValueError``, NumPy scalars
accepted). The two messages about positions that both sides word alike are built here too.
"""

from __future__ import annotations

from collections.abc import Iterable

import reference._args as A

__all__ = [
    "DIVERGED",
    "REDUCTIONS",
    "UNITS",
    "clip_range",
    "data_bits",
    "ddim_noise_shape",
    "eta",
    "guidance",
    "model",
    "nonempty_batch",
    "open_unit",
    "positions_message",
    "progress",
    "sample_shape",
    "steps_count",
    "t_prev_message",
]

REDUCTIONS = ("sum", "mean")
UNITS = ("nats", "bits/dim")


# The error of a sampler whose state became non-finite (the same text on both sides).
DIVERGED = (
    "eps_fn: the chain diverged (non-finite states): eps_fn returned non-finite values, or the states "
    "overflowed the sampling dtype"
)


def open_unit(name: str, value: object) -> float:
    """A number in the open interval (0, 1): a beta, an end of a beta schedule, a clip.

    >>> open_unit("beta_end", 0.02)
    0.02
    """
    return A.unit_interval(name, value, open_low=True, open_high=True)


def steps_count(n_steps: object, T: int) -> int:
    """The number S of respaced sampling steps, 1 <= S <= T (distinct positions of 0..T-1).

    >>> steps_count(50, 1000)
    50
    """
    S = A.count("n_steps", n_steps)
    if S > T:
        raise ValueError(f"n_steps: expected at most T = {T} steps (distinct positions), got {S}")
    return S


def eta(value: object) -> float:
    """DDIM's stochasticity in [0, 1] (0: deterministic DDIM, 1: the DDPM posterior variance)."""
    x = A.real("eta", value)
    if not 0.0 <= x <= 1.0:
        raise ValueError(
            f"eta: expected a number in [0, 1] (0: deterministic DDIM, 1: the DDPM posterior variance), got {x!r}"
        )
    return x


def clip_range(clip_x0: object) -> tuple[float, float] | None:
    """``None`` or a pair ``(low, high)`` of finite numbers with ``low < high``."""
    if clip_x0 is None:
        return None
    if not isinstance(clip_x0, (tuple, list)) or len(clip_x0) != 2:
        raise TypeError(f"clip_x0: expected None or a pair (low, high), got {A.describe(clip_x0)}")
    low, high = A.real("clip_x0[0]", clip_x0[0]), A.real("clip_x0[1]", clip_x0[1])
    if not low < high:
        raise ValueError(f"clip_x0: expected low < high, got ({low!r}, {high!r})")
    return low, high


def ddim_noise_shape(got: tuple[int, ...], S: int, shape: tuple[int, ...], eta: float) -> None:
    """DDIM's noise holds x_T and one z per step, (S, *shape); with eta = 0 x_T alone, (1, *shape), will do."""
    if eta == 0.0 and tuple(got) == (1, *shape):
        return
    if tuple(got) != (S, *shape):
        accepted = f"{(S, *shape)}" + (f" or {(1, *shape)} (eta = 0: x_T alone)" if eta == 0.0 else "")
        raise ValueError(f"noise: expected shape {accepted}, got shape {tuple(got)}")


def sample_shape(shape: object) -> tuple[int, ...]:
    """A batch shape ``(n, ...)`` (a tuple or list of integers, every size >= 1), as a tuple of ints."""
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape: expected a tuple of ints (n, ...), got {A.describe(shape)}")
    dims = A.shape("shape", shape)
    if len(dims) == 0 or any(s < 1 for s in dims):
        raise ValueError(f"shape: expected (n, ...) with every size >= 1, got {dims}")
    return dims


def model(eps_fn: object) -> object:
    """A callable noise model ``eps_fn(x_t, t)``."""
    if not callable(eps_fn):
        raise TypeError(f"eps_fn: expected a callable eps_fn(x_t, t), got {A.describe(eps_fn)}")
    return eps_fn


def progress(steps: range, show: object, desc: str) -> Iterable[int]:
    """The loop's range, or a tqdm bar over it with ``show=True`` (no bar object is built otherwise)."""
    if not A.flag("progress", show):
        return steps
    from tqdm.auto import tqdm

    return tqdm(steps, total=len(steps), desc=desc, unit="step")


def positions_message(lo: int, hi: int, T: int, low: int = 0) -> str:
    """The error for positions outside ``low..T-1``, given their smallest and largest values."""
    if low == 1 and lo == 0 and hi < T:
        return (
            "t: expected positions 1..T-1; position 0 (the slide's step 1) is the reconstruction term "
            "E log p(x_0 | x_1), not a KL (beta_tilde = 0 there), got a 0"
        )
    return (
        f"t: expected integer positions in {low}..{T - 1} (position t is the slide's step t + 1; T = {T}), "
        f"got min {lo} and max {hi}"
    )


def t_prev_message(n_bad: int, first_prev: int, first_t: int, T: int) -> str:
    """The error for DDIM targets outside ``-1 <= t_prev < t``: how many, and the first one."""
    return (
        f"t_prev: expected positions with -1 <= t_prev < t (-1: before the first step, alpha_bar = 1; T = {T}), "
        f"got {n_bad} element(s) outside, the first t_prev {first_prev} at t {first_t}"
    )


def nonempty_batch(name: str, shape: tuple[int, ...]) -> None:
    """A batch of n >= 1 samples along the first axis of ``shape`` (the shape of an array ``name``).

    >>> nonempty_batch("x0", (0, 2))
    Traceback (most recent call last):
        ...
    ValueError: x0: expected a batch of n >= 1 samples of shape (n, ...), got shape (0, 2)
    """
    if len(shape) == 0 or shape[0] == 0:
        raise ValueError(f"{name}: expected a batch of n >= 1 samples of shape (n, ...), got shape {tuple(shape)}")


def data_bits(bits: object) -> int | None:
    """``None`` (continuous data, the Gaussian decoder) or the bit depth 1..16 of data on a grid in [-1, 1].

    >>> data_bits(8)
    8
    """
    if bits is None:
        return None
    b = A.count("bits", bits)
    if b > 16:
        raise ValueError(f"bits: expected a bit depth in 1..16 (2^bits grid levels in [-1, 1]), got {b}")
    return b


def guidance(fn: object) -> object:
    """``None`` or a callable ``guidance(x, t) -> g``, the classifier gradient at the mean x."""
    if fn is not None and not callable(fn):
        raise TypeError(f"guidance: expected None or a callable guidance(x, t), got {A.describe(fn)}")
    return fn
