"""Agreement pairs of :mod:`reference.gan` and :mod:`accelerated.gan` with their bad inputs, registered on import.

The strategies and case builders are in :mod:`crosscheck.pairs.gan.strategies`.

Edge cases drawn on purpose: discriminator outputs at exactly 0 and 1 (V = -inf), logits at +-50,
+-1000 and +-1e4 (infinite logits are refused), hinge logits at the kinks +-1, densities that vanish
together (D* = 1/2) or alone (D* in {0, 1}), log-densities of -inf, uniforms at 0, 1/2 and 1 (the
truncation bounds), psi beyond 38 (Phi(-psi) underflows), per-sample values of shape (n,) and (n, 1)
with different n for the real and the generated set, batch axes that broadcast (densities, latents),
and data sets whose classes a logistic regression separates perfectly.

The training losses and penalties are registered at bfloat16 and float16 too (the mixed-precision
pass, ``crosscheck.tolerances.LOW_PRECISION``, default tolerances). For the penalties of a critic
network, half precision is the network's own arithmetic as much as the library's, so at half precision
the strategies draw critics whose hidden units stay out of saturation (|pre-activation| below about 2),
where 1 - tanh^2 keeps its leading digits: a saturated unit (h = 0.999) has 1 - h^2 = 0.002 with no
correct digit in bfloat16, in any implementation. Measured over 300 random draws each: usage (error
over tolerance) at most 0.48 (gradient_penalty, bfloat16) with these critics, 0.76 with the float32
strategy's critics (weights up to 1.5).
"""

from __future__ import annotations

import numpy as np

from crosscheck.agree import Twin
from crosscheck.registry import bad, register_pair

from .strategies import (
    TRAINING_DTYPES,
    _c2st_cases,
    _clip_cases,
    _density_cases,
    _discriminator_loss_cases,
    _generator_loss_cases,
    _gradient_penalty_cases,
    _gradients_cases,
    _interpolate_cases,
    _truncate_latent_cases,
    _truncated_normal_cases,
    _value_cases,
    _zero_centred_penalty_cases,
)

# --------------------------------------------------------------------------- bad inputs

NAN = float("nan")
CRITIC = Twin("gan.TanhCritic", W=np.full((2, 3), 0.5), b=np.zeros(3), a=np.ones(3))  # 2 features, 3 units


def vec(*values: float) -> np.ndarray:
    """A float64 vector (a bad input is an array on both sides: lists would stay lists)."""
    return np.array(values, dtype=np.float64)


PER_SAMPLE_SHAPE = r"expected shape \(n,\) or \(n, 1\)"
Z23, Z22 = np.zeros((2, 3)), np.zeros((2, 2))
BAD_SAMPLES = np.array([[np.inf, 0.0], [0.0, NAN]])
C2ST = (np.zeros((4, 1)), np.zeros((4, 1)))  # two sets of 4 points in d = 1
HALF8 = np.full(8, 0.5)  # the split uniforms of C2ST


# --------------------------------------------------------------------------- pairs

register_pair(
    "gan",
    "gan_value",
    cases=lambda dtype: _value_cases("probabilities"),
    dtypes=TRAINING_DTYPES,
    errors=[
        bad(vec(0.5, 1.5), vec(0.5), match=r"d_real: expected values in \[0.0, 1.0\]"),
        bad(vec(0.5), vec(-0.1), match=r"d_fake: expected values in \[0.0, 1.0\]"),
        bad(vec(0.5, NAN), vec(0.5), match="d_real: expected no NaN"),
        bad(np.zeros((2, 0)), vec(0.5), match=rf"d_real: {PER_SAMPLE_SHAPE}"),
        bad(vec(0.5), np.zeros(0), match=rf"d_fake: {PER_SAMPLE_SHAPE}.*\(0,\)"),
        bad(np.full((2, 3), 0.5), np.full((3, 2), 0.5), match=r"d_real: .*got shape \(2, 3\)"),
        bad(np.array(0.5), vec(0.5), match=rf"d_real: {PER_SAMPLE_SHAPE}.*got shape \(\)"),
        bad(vec(0.5), "0.5", error=TypeError, match="d_fake: expected a"),
    ],
)
register_pair(
    "gan",
    "optimal_discriminator",
    cases=lambda dtype: _density_cases(log=False),
    errors=[
        bad(vec(1.0, -1.0), vec(1.0, 1.0), match="p_data: expected non-negative"),
        bad(vec(1.0), vec(np.inf), match="p_model: expected finite"),
        bad(vec(NAN), vec(1.0), match="p_data: expected finite"),
        bad(np.ones(2), np.ones(3), match="p_data, p_model: batch shapes do not broadcast"),
    ],
)
register_pair(
    "gan",
    "optimal_discriminator_logit",
    cases=lambda dtype: _density_cases(log=True),
    errors=[
        bad(vec(np.inf), vec(0.0), match=r"log_p_data: expected log-densities < \+inf"),
        bad(vec(0.0), vec(NAN), match="log_p_model: expected no NaN"),
        bad(np.ones(2), np.ones(3), match="log_p_data, log_p_model: batch shapes do not broadcast"),
    ],
)
register_pair(
    "gan",
    "discriminator_loss",
    cases=lambda dtype: _discriminator_loss_cases(),
    dtypes=TRAINING_DTYPES,
    errors=[
        bad(vec(0.0), np.zeros((4, 2)), match=rf"logits_fake: {PER_SAMPLE_SHAPE}"),
        bad(vec(NAN), vec(0.0), kind="hinge", match="logits_real: expected finite values"),
        bad(vec(NAN), vec(0.0), match="logits_real: expected finite values"),
        bad(vec(0.0), vec(0.0, NAN), match="logits_fake: expected finite values"),
        bad(vec(1.0), vec(0.0, np.inf), match="logits_fake: expected finite values"),
        bad(vec(0.0), vec(0.0), kind="non_saturating", match=r"kind: expected one of \('cross_entropy', 'hinge'\)"),
        bad(vec(0.0), vec(0.0), kind=1, error=TypeError, match="kind: expected a str, one of"),
    ],
)
register_pair(
    "gan",
    "generator_loss",
    cases=lambda dtype: _generator_loss_cases(),
    dtypes=TRAINING_DTYPES,
    errors=[
        bad(vec(NAN), kind="hinge", match="logits_fake: expected finite values"),
        bad(vec(NAN), kind="minimax", match="logits_fake: expected finite values"),
        bad(np.zeros((1, 3)), kind="minimax", match=rf"logits_fake: {PER_SAMPLE_SHAPE}"),
        bad(vec(np.inf, -np.inf), kind="hinge", match="logits_fake: expected finite values"),
        bad(vec(0.0, np.inf), kind="minimax", match="logits_fake: expected finite values"),
        bad(vec(0.0), kind="wasserstein", match=r"kind: expected one of .*minimax.*non_saturating.*hinge"),
        bad(vec(0.0), kind=None, error=TypeError, match="kind: expected a str, one of"),
        bad(vec(0.0), error=TypeError, match="kind"),  # required: the choice changes the value
    ],
)
register_pair(
    "gan",
    "wasserstein_critic_objective",
    cases=lambda dtype: _value_cases("critic"),
    dtypes=TRAINING_DTYPES,
    errors=[
        bad(vec(NAN), vec(1.0), match="f_real: expected finite"),
        bad(vec(1.0), vec(np.inf), match="f_fake: expected finite"),
        bad(np.zeros((3, 2)), vec(1.0), match=rf"f_real: {PER_SAMPLE_SHAPE}"),
    ],
)
register_pair(
    "gan",
    "clip_weights",
    cases=lambda dtype: _clip_cases(),
    errors=[
        bad([vec(1.0)], 0.0, match="c: expected a finite positive number"),
        bad([vec(1.0)], -1.0, match="c: expected a finite positive number"),
        bad([vec(1.0)], NAN, match="c: expected a finite positive number"),
        bad([vec(1.0)], "1", error=TypeError, match="c: expected a positive real number"),
        bad(5, 1.0, error=TypeError, match="parameters: expected"),
        bad([vec(1.0), vec(0.5, NAN)], 1.0, match=r"parameters\[1\]: expected no NaN"),
    ],
)
register_pair(
    "gan",
    "interpolate",
    cases=lambda dtype: _interpolate_cases(),
    dtypes=TRAINING_DTYPES,
    errors=[
        bad(Z23, Z23, vec(0.5, 1.5), match=r"noise: expected values in"),
        bad(Z23, Z23, vec(0.5), match=r"noise: expected shape \(2,\)"),
        bad(Z23, Z22, vec(0.5, 0.5), match=r"x_fake: expected shape"),
        bad(np.full((2, 1), NAN), np.zeros((2, 1)), vec(0.5, 0.5), match="x_real: expected finite"),
        bad(np.zeros((0, 1)), np.zeros((0, 1)), np.zeros(0), match="x_real: expected at least one sample"),
    ],
)
register_pair(
    "gan",
    "gradient_penalty_from_gradients",
    cases=lambda dtype: _gradients_cases(),
    dtypes=TRAINING_DTYPES,
    errors=[
        bad(np.ones((2, 2)), weight=0.0, match="weight: expected a finite positive number"),
        bad(np.full((2, 2), NAN), match="gradients: expected finite"),
        bad(np.zeros((0, 2)), match="gradients: expected at least one"),
        bad(np.array(1.0), match=r"gradients: expected at least 1 dimension\(s\)"),
        bad(np.full((2, 2), 1e300), match="gradients: the result overflowed float64"),
    ],
)
register_pair(
    "gan",
    "gradient_penalty",
    cases=_gradient_penalty_cases,
    dtypes=TRAINING_DTYPES,
    errors=[
        bad(CRITIC, Z22, Z22, weight=0.0, noise=vec(0.5, 0.5), match="weight: expected a finite positive number"),
        bad(CRITIC, Z22, Z22, match="noise / rng: pass exactly one of noise="),
        bad(CRITIC, Z22, BAD_SAMPLES, noise=vec(1.0, 1.0), match="x_fake: expected finite values"),
        bad(CRITIC, BAD_SAMPLES, Z22, noise=vec(0.0, 0.0), match="x_real: expected finite values"),
        bad(CRITIC, BAD_SAMPLES, Z22, noise=vec(0.3, 0.8), match="x_real: expected finite values"),
        bad(CRITIC, Z22, Z22, noise=vec(0.5, 1.5), match="noise: expected values in"),
        bad(CRITIC, Z22, Z23, noise=vec(0.5, 0.5), match="x_fake: expected shape"),
        bad("critic", Z22, Z22, noise=vec(0.5, 0.5), error=TypeError, match="critic: expected an? "),
    ],
)


def _zero_centred_errors(arg: str) -> list:
    """The bad inputs of r1_penalty (``arg='x_real'``) and r2_penalty (``'x_fake'``)."""
    return [
        bad(CRITIC, Z22, error=TypeError, match="gamma"),  # gamma is a required keyword
        bad(CRITIC, Z22, gamma=0.0, match="gamma: expected a finite positive number"),
        bad(CRITIC, Z22, gamma=-1.0, match="gamma: expected a finite positive number"),
        bad(CRITIC, Z22, gamma="10", error=TypeError, match="gamma: expected a positive real number"),
        bad(CRITIC, np.zeros((0, 2)), gamma=1.0, match=f"{arg}: expected at least one sample"),
        bad(CRITIC, np.array([[0.0, NAN], [0.0, 0.0]]), gamma=1.0, match=f"{arg}: expected finite values"),
        bad(CRITIC, np.array([[np.inf, 0.0], [0.0, 0.0]]), gamma=1.0, match=f"{arg}: expected finite values"),
        bad("D", Z22, gamma=1.0, error=TypeError, match="discriminator: expected"),
    ]


register_pair(
    "gan",
    "r1_penalty_from_gradients",
    cases=lambda dtype: _gradients_cases(weight="gamma"),
    dtypes=TRAINING_DTYPES,
    errors=[
        bad(np.ones((2, 2)), gamma=0.0, match="gamma: expected a finite positive"),
        bad(np.ones((2, 2)), gamma="1", error=TypeError, match="gamma: expected a positive real"),
        bad(np.ones((2, 2)), gamma=np.inf, match="gamma: expected a finite"),
        bad(np.full((2, 2), np.inf), gamma=1.0, match="gradients: expected finite"),
        bad(np.zeros((0, 2)), gamma=1.0, match="gradients: expected at least one"),
        bad(np.full((2, 2), 1e300), gamma=1.0, match="gradients: the result overflowed float64"),
    ],
)
register_pair(
    "gan",
    "r1_penalty",
    cases=_zero_centred_penalty_cases,
    dtypes=TRAINING_DTYPES,
    errors=_zero_centred_errors("x_real"),
)
register_pair(
    "gan",
    "r2_penalty",
    cases=_zero_centred_penalty_cases,
    dtypes=TRAINING_DTYPES,
    errors=_zero_centred_errors("x_fake"),
)
register_pair(
    "gan",
    "truncated_normal",
    cases=lambda dtype: _truncated_normal_cases(),
    errors=[
        bad(0.0, noise=vec(0.5), match="psi: expected a finite positive number"),
        bad(-1.0, noise=vec(0.5), match="psi: expected a finite positive number"),
        bad(np.inf, noise=vec(0.5), match="psi: expected a finite positive number"),
        bad(1.0, noise=vec(1.5), match=r"noise: expected values in \[0.0, 1.0\]"),
        bad(1.0, noise=vec(NAN), match="noise: expected no NaN"),
        bad(1.0, noise=vec(0.5), shape=(2,), match=r"noise: expected shape \(2,\)"),
        bad(1.0, noise=vec(0.5), shape="x", error=TypeError, match="shape: expected a shape"),
        bad(1.0, noise=vec(0.5, 0.5), shape=(2.0,), error=TypeError, match="shape: expected a shape"),
        bad(1.0, noise=vec(0.5), shape=(-1,), match="shape: expected a shape of non-negative integers"),
        bad(1.0, match="noise / rng: pass exactly one of noise="),
    ],
)
register_pair(
    "gan",
    "truncate_latent",
    cases=lambda dtype: _truncate_latent_cases(),
    errors=[
        bad(Z23, np.zeros(2), 0.7, match="z and z_mean: expected the same size along the last axis"),
        bad(Z23, np.zeros(3), NAN, match="psi: expected a finite number"),
        bad(Z23, np.zeros(3), "0.7", error=TypeError, match="psi: expected a real number"),
        bad(np.full((2, 3), np.inf), np.zeros(3), 0.7, match="z: expected finite"),
        bad(np.zeros((2, 3)), np.zeros((3, 3)), 0.7, match="z, z_mean: batch shapes do not broadcast"),
    ],
)
register_pair(
    "gan",
    "classifier_two_sample_test",
    cases=lambda dtype: _c2st_cases(),
    errors=[
        bad(np.zeros(4), np.zeros((4, 1)), noise=HALF8, match=r"x: expected a matrix"),
        bad(np.zeros((4, 2)), np.zeros((4, 1)), noise=HALF8, match="x and y: expected the same size along"),
        bad(*C2ST, test_fraction=1.0, noise=HALF8, match=r"test_fraction: expected a number in \(0, 1\)"),
        bad(
            np.zeros((1, 1)),
            np.zeros((4, 1)),
            noise=HALF8,
            match="x / test_fraction: expected at least one training and one held-out point",
        ),
        bad(*C2ST, weight_decay=0.0, noise=HALF8, match="weight_decay: expected a finite positive number"),
        bad(*C2ST, tol=-1.0, noise=HALF8, match="tol: expected a finite positive number"),
        bad(*C2ST, max_iter=0, noise=HALF8, match="max_iter: expected an integer >= 1, got 0"),
        bad(*C2ST, max_iter=10.0, noise=HALF8, error=TypeError, match="max_iter: expected an integer >= 1"),
        bad(*C2ST, max_iter=True, noise=HALF8, error=TypeError, match="max_iter: expected an integer >= 1"),
        bad(*C2ST, noise=np.full(7, 0.5), match=r"noise: expected shape \(8,\)"),
        bad(*C2ST, noise=np.full(8, 1.5), match=r"noise: expected values in \[0.0, 1.0\]"),
        bad(*C2ST, match="noise / rng: pass exactly one of noise="),
        bad(np.zeros((4, 1)), np.full((4, 1), NAN), noise=HALF8, match="y: expected finite"),
        # a feature whose squares overflow (the Hessian cannot be formed), held out or not
        bad(np.array([[1e300], [0.0], [0.0], [0.0]]), C2ST[1], noise=HALF8, match="x: expected features whose sum"),
        bad(C2ST[0], np.array([[0.0], [0.0], [-1e160], [0.0]]), noise=HALF8, match="y: expected features whose sum"),
        # an outlier that saturates every training logit: the Newton system is singular
        bad(
            np.array([[0.0], [1.0], [1e20], [-2.0]]),
            np.array([[0.0], [-1.0], [1.0], [-2.0]]),
            noise=HALF8,
            match="x, y: expected features whose scale the logistic regression can fit, got a singular",
        ),
    ],
)


# --------------------------------------------------------------------------- mean-difference and variance tests
# (L8 'Two-Sample Tests'). The samples are drawn within +-100 so the statistics stay O(1e3) at most.

from hypothesis import strategies as st  # noqa: E402

from crosscheck import strategies as cs  # noqa: E402
from crosscheck.agree import Case  # noqa: E402


@st.composite
def _one_d_two_sample_cases(draw: st.DrawFn, dtype: str) -> Case:
    batch = draw(cs.batch_shapes(max_dims=2))
    y_batch = tuple(1 if draw(st.booleans()) else s for s in batch)
    n, m = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    x = draw(cs.bounded_floats((*batch, n), -100.0, 100.0))
    scale = draw(st.sampled_from([1e-3, 1.0, 10.0]))  # y on another scale: unequal variances
    y = draw(cs.bounded_floats((*y_batch, m), -100.0, 100.0)) * scale + draw(st.floats(-5.0, 5.0))
    x = x + np.linspace(0.0, 1.0, n)  # never constant
    y = y + np.linspace(0.0, 1e-3, m)
    return Case((x, y))


ONE_D_ERRORS = [
    bad(vec(1.0), vec(1.0, 2.0), match=r"x: expected samples of shape \(\.\.\., n\) with n >= 2"),
    bad(vec(1.0, 2.0), np.zeros((2, 0)), match=r"y: expected samples of shape"),
    bad(vec(1.0, NAN), vec(1.0, 2.0), match="x: expected finite"),
    bad(np.zeros((2, 3)), np.zeros((3, 3)) + vec(0.0, 1.0, 2.0), match="do not broadcast"),
]
register_pair(
    "gan",
    "mean_difference_test",
    cases=_one_d_two_sample_cases,
    errors=[*ONE_D_ERRORS, bad(vec(1.0, 1.0), vec(2.0, 2.0), match="x, y: expected samples with positive variance")],
)
register_pair(
    "gan",
    "variance_ratio_test",
    cases=_one_d_two_sample_cases,
    errors=[*ONE_D_ERRORS, bad(vec(1.0, 2.0), vec(2.0, 2.0), match="y: expected samples with positive variance")],
)
