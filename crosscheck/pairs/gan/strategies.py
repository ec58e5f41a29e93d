"""Hypothesis strategies of the GAN pairs: per-sample values, logits, densities, uniforms, critics, cases.

The edge cases they draw on purpose are listed in :mod:`crosscheck.pairs.gan`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crosscheck import strategies as cs
from crosscheck.agree import Case, Twin
from crosscheck.tolerances import LOW_PRECISION

# The losses and penalties a training step calls: checked in the mixed-precision pass too.
TRAINING_DTYPES = ("float64", "float32", *LOW_PRECISION)


# --------------------------------------------------------------------------- gan-specific strategies


@st.composite
def broadcast_batch_pair(draw: st.DrawFn, max_dims: int = 2) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two leading shapes that broadcast: the second drops leading axes and/or sets some to 1."""
    first = draw(cs.batch_shapes(max_dims=max_dims))
    second = [1 if draw(st.booleans()) else s for s in first]
    drop = draw(st.integers(0, len(second)))
    second = tuple(second[drop:])
    return (first, second) if draw(st.booleans()) else (second, first)


def sample_sizes() -> st.SearchStrategy[int]:
    return st.integers(1, 8)


def per_sample_shapes(n: int) -> st.SearchStrategy[tuple[int, ...]]:
    """The two accepted shapes of n per-sample values: (n,) and (n, 1) (a Linear(h, 1) output)."""
    return st.sampled_from([(n,), (n, 1)])


def logit_arrays(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Logits in [-50, 50] with the ends, plus saturated +-1000 and +-1e4 (finite in float16) entries.

    Infinite logits are refused by the losses (issue 12): not drawn here, registered as error inputs.
    """
    elements = st.one_of(
        st.floats(-50.0, 50.0, width=64),
        st.sampled_from([-50.0, 50.0, 0.0, -1000.0, 1000.0, 20.5, -20.5]),
        st.sampled_from([-1e4, 1e4]),
    )
    return hnp.arrays(np.float64, shape, elements=elements)


def density_values(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Density values in [0, 1e6] with exact zeros and a few very small and very large ones."""
    elements = st.one_of(st.floats(0.0, 1e6, width=64), st.sampled_from([0.0, 0.0, 1e-30, 1e-300, 1e30, 1.0]))
    return hnp.arrays(np.float64, shape, elements=elements)


def log_density_values(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Log-densities in [-1e3, 50] with -inf (density 0) entries."""
    elements = st.one_of(st.floats(-1e3, 50.0, width=64), st.just(-np.inf), st.sampled_from([0.0, -745.0]))
    return hnp.arrays(np.float64, shape, elements=elements)


def closed_uniforms(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Uniforms in [0, 1] with 0, 1/2, 1 and the extreme tails drawn on purpose."""
    elements = st.one_of(
        st.floats(0.0, 1.0, width=64), st.sampled_from([0.0, 0.5, 1.0, 1e-300, 1e-12, 1.0 - 1e-12, 1.0 - 2**-53])
    )
    return hnp.arrays(np.float64, shape, elements=elements)


def feature_shapes() -> st.SearchStrategy[tuple[int, ...]]:
    """Per-sample feature shapes, from a bare scalar feature () to small images (c, h, w)."""
    return hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


# --------------------------------------------------------------------------- cases


@st.composite
def _value_cases(draw: st.DrawFn, kind: str) -> Case:
    s_real = draw(per_sample_shapes(draw(sample_sizes())))
    s_fake = draw(per_sample_shapes(draw(sample_sizes())))
    if kind == "probabilities":
        real = draw(cs.discriminator_probabilities(s_real, include_ends=True))
        fake = draw(cs.discriminator_probabilities(s_fake, include_ends=True))
    elif kind == "logits":
        real = draw(logit_arrays(s_real))
        fake = draw(logit_arrays(s_fake))
    else:
        real = draw(cs.bounded_floats(s_real, -10.0, 10.0))
        fake = draw(cs.bounded_floats(s_fake, -10.0, 10.0))
        if draw(st.booleans()):  # nearly equal means: the objective cancels
            fake = real.flat[0] + draw(cs.bounded_floats(s_fake, -1e-3, 1e-3))
    return Case((real, fake))


@st.composite
def _discriminator_loss_cases(draw: st.DrawFn) -> Case:
    case = draw(_value_cases("logits"))
    kind = draw(st.sampled_from([None, "cross_entropy", "hinge"]))
    if kind == "hinge" and draw(st.booleans()):  # logits at the hinge's kinks, +-1
        real, fake = (np.where(draw(hnp.arrays(np.bool_, a.shape)), np.sign(a), a) for a in case.args)
        case = Case((real, fake))
    return case if kind is None else Case(case.args, {"kind": kind})


@st.composite
def _density_cases(draw: st.DrawFn, log: bool) -> Case:
    s_data, s_model = draw(broadcast_batch_pair(max_dims=3))
    values = log_density_values if log else density_values
    a, b = draw(values(s_data)), draw(values(s_model))
    if draw(st.booleans()):  # vanish together somewhere
        zero = -np.inf if log else 0.0
        shape = np.broadcast_shapes(s_data, s_model)
        a = np.broadcast_to(a, shape).copy()
        b = np.broadcast_to(b, shape).copy()
        if a.size:
            a.flat[0] = b.flat[0] = zero
    return Case((a, b))


@st.composite
def _generator_loss_cases(draw: st.DrawFn) -> Case:
    logits = draw(logit_arrays(draw(per_sample_shapes(draw(sample_sizes())))))
    kind = draw(st.sampled_from(["minimax", "non_saturating", "hinge"]))
    return Case((logits,), {"kind": kind})


@st.composite
def _clip_cases(draw: st.DrawFn) -> Case:
    k = draw(st.integers(1, 3))
    shapes = [draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)) for _ in range(k)]
    params = [draw(cs.bounded_floats(s, -20.0, 20.0)) for s in shapes]
    c = draw(st.one_of(st.floats(1e-3, 10.0), st.sampled_from([0.01, 1.0])))
    return Case((params, c))


@st.composite
def _interpolate_cases(draw: st.DrawFn) -> Case:
    n = draw(sample_sizes())
    shape = (n, *draw(feature_shapes()))
    x_real = draw(cs.bounded_floats(shape, -10.0, 10.0))
    x_fake = draw(cs.bounded_floats(shape, -10.0, 10.0))
    return Case((x_real, x_fake, draw(closed_uniforms((n,)))))


@st.composite
def _gradients_cases(draw: st.DrawFn, weight: str = "weight") -> Case:
    shape = (draw(sample_sizes()), *draw(feature_shapes()))
    g = draw(cs.bounded_floats(shape, -3.0, 3.0))
    if draw(st.booleans()):  # unit-norm rows: the WGAN-GP penalty vanishes up to rounding
        flat = g.reshape(shape[0], -1)
        norm = np.linalg.norm(flat, axis=1, keepdims=True)
        g = np.where(norm > 0, flat / np.where(norm > 0, norm, 1.0), flat).reshape(shape)
    return Case((g,), {weight: draw(st.sampled_from([10.0, 1.0, 0.1, 25.0]))})


@st.composite
def _tanh_critic(draw: st.DrawFn, features: tuple[int, ...], dtype: str) -> Twin:
    """A TanhCritic twin; at half precision with |pre-activation| <= ~2 (see the module docstring)."""
    D, H = int(np.prod(features)), draw(st.integers(1, 5))
    w_max = 1.5 if dtype not in LOW_PRECISION else 0.6 / np.sqrt(D)
    return Twin(
        "gan.TanhCritic",
        W=draw(cs.bounded_floats((D, H), -w_max, w_max)),
        b=draw(cs.bounded_floats((H,), -1.0, 1.0)),
        a=draw(cs.bounded_floats((H,), -2.0, 2.0)),
    )


@st.composite
def _gradient_penalty_cases(draw: st.DrawFn, dtype: str) -> Case:
    n = draw(sample_sizes())
    features = draw(feature_shapes())
    critic = draw(_tanh_critic(features, dtype))
    x_real = draw(cs.bounded_floats((n, *features), -3.0, 3.0))
    x_fake = draw(cs.bounded_floats((n, *features), -3.0, 3.0))
    return Case(
        (critic, x_real, x_fake),
        {"weight": draw(st.sampled_from([10.0, 1.0, 0.5])), "noise": draw(closed_uniforms((n,)))},
    )


@st.composite
def _zero_centred_penalty_cases(draw: st.DrawFn, dtype: str) -> Case:
    n = draw(sample_sizes())
    features = draw(feature_shapes())
    critic = draw(_tanh_critic(features, dtype))
    x = draw(cs.bounded_floats((n, *features), -3.0, 3.0))
    return Case((critic, x), {"gamma": draw(st.sampled_from([10.0, 1.0, 0.1]))})


@st.composite
def _truncated_normal_cases(draw: st.DrawFn) -> Case:
    psi = draw(st.one_of(st.floats(0.01, 10.0), st.sampled_from([0.5, 0.7, 1.0, 2.0, 13.0, 40.0])))
    # min_dims=1: crosscheck.agree rounds 0-d arrays through np.ascontiguousarray, which makes them (1,)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5))
    kwargs = {"noise": draw(closed_uniforms(shape))}
    if draw(st.booleans()):
        kwargs["shape"] = shape
    return Case((psi,), kwargs)


@st.composite
def _truncate_latent_cases(draw: st.DrawFn) -> Case:
    d = draw(st.integers(1, 6))
    b_z, b_mean = draw(broadcast_batch_pair())
    z = draw(cs.bounded_floats((*b_z, d), -5.0, 5.0))
    z_mean = draw(cs.bounded_floats((*b_mean, d), -1.0, 1.0))
    psi = draw(st.one_of(st.floats(-2.0, 2.0), st.sampled_from([0.0, 0.7, 1.0])))
    return Case((z, z_mean, psi))


@st.composite
def _c2st_cases(draw: st.DrawFn) -> Case:
    """Gaussian data from a drawn seed (continuous values: no held-out point on the decision boundary)."""
    n_x, n_y, d = draw(st.integers(4, 40)), draw(st.integers(4, 40)), draw(st.integers(1, 3))
    shift = draw(st.sampled_from([0.0, 0.3, 1.0, 10.0]))
    scale = draw(st.sampled_from([1.0, 0.01, 100.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = scale * rng.standard_normal((n_x, d))
    y = scale * (rng.standard_normal((n_y, d)) + shift)
    noise = draw(cs.uniforms((n_x + n_y,)))
    kwargs = {
        "test_fraction": draw(st.sampled_from([0.5, 0.3, 0.25])),
        "weight_decay": draw(st.sampled_from([1e-2, 1e-3, 1.0])),
        "noise": noise,
    }
    return Case((x, y), kwargs)
