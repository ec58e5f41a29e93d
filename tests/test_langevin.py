"""langevin: known values, both parametrisations, draws and determinism, in-place and autograd, bad input, theorem.

Agreement between the sides on drawn inputs is checked by the registered pairs (tests/test_agreement.py);
here both sides are run on hand-checkable cases.
"""

import math

import numpy as np
import pytest
import torch

from accelerated import langevin as acc
from crosscheck.registry import Side
from crosscheck.runner import check_theorem
from crosscheck.theorems import langevin as theorems
from reference import langevin as ref


def t(x, dtype=torch.float64):
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)


def gaussian_score(x):
    """Score of N(0, 2 I): works on arrays and tensors alike."""
    return -x / 2.0


def gaussian_log_prob(x):
    return -(x**2).sum(-1) / 4.0


def noisy_score(x, sigma):
    """Score of N(0, I) convolved with N(0, sigma^2 I); sigma a float or one level per chain, shape (n,)."""
    if not isinstance(sigma, float):
        sigma = sigma.reshape((-1,) + (1,) * (x.ndim - 1))  # the samplers' protocol: (n,), broadcast over features
    return -x / (1.0 + sigma**2)


# ---------------------------------------------------------------- one step by hand, both parametrisations


def test_langevin_step_known_value():
    x, s, z = np.array([[1.0, 2.0]]), np.array([[0.5, -1.0]]), np.array([[0.1, 0.2]])
    expected = [[1.0 + 0.02 * 0.5 + 0.2 * 0.1, 2.0 - 0.02 * 1.0 + 0.2 * 0.2]]  # eta = 0.04: eta/2 = 0.02, sqrt = 0.2
    np.testing.assert_allclose(ref.langevin_step(x, s, step_size=0.04, noise=z), expected, rtol=1e-15)
    np.testing.assert_allclose(acc.langevin_step(t(x), t(s), step_size=0.04, noise=t(z)).numpy(), expected, rtol=1e-15)


def test_eta_and_eps_squared_parametrisations_agree():
    # Isachenko: x + (eta/2) s + sqrt(eta) z; Beigy: x + (eps^2/2) s + eps z. Same update with eta = eps^2.
    rng = np.random.default_rng(0)
    x, s, z = rng.normal(size=(3, 7, 2))
    eps = 0.3
    beigy = x + eps**2 / 2.0 * s + eps * z
    np.testing.assert_allclose(ref.langevin_step(x, s, step_size=eps**2, noise=z), beigy, rtol=1e-14)
    out = acc.langevin_step(t(x), t(s), step_size=eps**2, noise=t(z))
    np.testing.assert_allclose(out.numpy(), beigy, rtol=1e-14)


@pytest.mark.parametrize("threads", [1, 2])
def test_in_place_step_and_cache_blocked_path(threads):
    # Above CHUNK_BYTES, with one intra-op thread, the CPU update runs block by block (with two, over
    # the whole tensor): either way the result must equal the plain formula.
    n = acc.CHUNK_BYTES // 4 * 2 + 17  # two blocks and a ragged tail at float32
    g = torch.Generator().manual_seed(0)
    x, s, z = (torch.randn(n, generator=g) for _ in range(3))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        assert (acc._blocks(x, s, z) is not None) == (threads == 1)
        _check_steps(x, s, z)
    finally:
        torch.set_num_threads(previous)


def _check_steps(x, s, z):
    out = acc.langevin_step(x, s, step_size=0.25, noise=z)  # eta = 0.25: eta/2 = 0.125, sqrt = 0.5
    plain = x + 0.125 * s + 0.5 * z
    torch.testing.assert_close(out, plain, rtol=1e-6, atol=1e-6)
    y = x.clone()
    returned = acc.langevin_step_(y, s, step_size=0.25, noise=z)
    assert returned is y
    torch.testing.assert_close(y, plain, rtol=1e-6, atol=1e-6)
    assert not torch.equal(x, y)  # langevin_step left x alone; langevin_step_ changed y


def test_step_is_differentiable():
    x = torch.tensor([[0.3, -1.0]], dtype=torch.float64, requires_grad=True)
    s = -x / 2.0
    out = acc.langevin_step(x, s, step_size=0.1, noise=torch.zeros_like(x))
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.0 - 0.05 / 2.0, rtol=1e-15)  # d/dx [x + 0.05 (-x/2)]


# ---------------------------------------------------------------- chains


def test_langevin_sample_by_hand_and_record_steps():
    rng = np.random.default_rng(1)
    x0, noise = rng.normal(size=(4, 3)), rng.normal(size=(3, 4, 3))
    eta = 0.2
    states = [x0]
    for k in range(3):
        states.append(states[-1] + eta / 2 * gaussian_score(states[-1]) + math.sqrt(eta) * noise[k])
    r = ref.langevin_sample(gaussian_score, x0, step_size=eta, n_steps=3, noise=noise, record_steps=(0, 2, 3))
    a = acc.langevin_sample(gaussian_score, t(x0), step_size=eta, n_steps=3, noise=t(noise), record_steps=[0, 2, 3])
    for out in (r, a):
        samples, trajectory = np.asarray(out.samples), np.asarray(out.trajectory)
        np.testing.assert_allclose(samples, states[3], rtol=1e-14)
        np.testing.assert_allclose(trajectory, np.stack([states[0], states[2], states[3]]), rtol=1e-14)


def test_zero_steps_copies_x0_and_never_modifies_it():
    x0 = np.ones((2, 2))
    r = ref.langevin_sample(gaussian_score, x0, step_size=0.1, n_steps=0, noise=np.zeros((0, 2, 2)))
    assert r.samples is not x0 and r.trajectory.shape == (0, 2, 2)
    x0_t = torch.ones(2, 2)
    a = acc.langevin_sample(gaussian_score, x0_t, step_size=0.1, n_steps=3, rng=torch.Generator().manual_seed(0))
    assert torch.equal(x0_t, torch.ones(2, 2)) and a.samples.dtype == torch.float32
    assert a.trajectory.shape == (0, 2, 2)


def test_rng_draws_match_the_documented_order():
    # Reference: rng.standard_normal(x0.shape) per step == one (n_steps, n, d) draw of the same generator.
    x0 = np.zeros((5, 2))
    r_rng = ref.langevin_sample(gaussian_score, x0, step_size=0.1, n_steps=4, rng=np.random.default_rng(3))
    noise = np.random.default_rng(3).standard_normal((4, 5, 2))
    r_noise = ref.langevin_sample(gaussian_score, x0, step_size=0.1, n_steps=4, noise=noise)
    np.testing.assert_array_equal(r_rng.samples, r_noise.samples)
    # Accelerated: torch.randn(x0.shape, generator=rng, ...) once per step.
    g = torch.Generator().manual_seed(3)
    a_rng = acc.langevin_sample(gaussian_score, t(x0), step_size=0.1, n_steps=4, rng=g)
    g = torch.Generator().manual_seed(3)
    noise_t = torch.stack([torch.randn((5, 2), generator=g, dtype=torch.float64) for _ in range(4)])
    a_noise = acc.langevin_sample(gaussian_score, t(x0), step_size=0.1, n_steps=4, noise=noise_t)
    torch.testing.assert_close(a_rng.samples, a_noise.samples, rtol=0, atol=0)
    # MALA: per step the normals, then the uniforms.
    rng = np.random.default_rng(4)
    z, u = [], []
    for _ in range(3):
        z.append(rng.standard_normal((5, 2)))
        u.append(rng.uniform(size=5))
    kw = {"step_size": 1.5, "n_steps": 3}
    m_rng = ref.mala_sample(gaussian_log_prob, gaussian_score, x0, rng=np.random.default_rng(4), **kw)
    m_noise = ref.mala_sample(gaussian_log_prob, gaussian_score, x0, noise=np.stack(z), uniforms=np.stack(u), **kw)
    np.testing.assert_array_equal(m_rng.samples, m_noise.samples)
    np.testing.assert_array_equal(m_rng.acceptance_rate, m_noise.acceptance_rate)
    g = torch.Generator().manual_seed(4)
    z_t, u_t = [], []
    for _ in range(3):
        z_t.append(torch.randn((5, 2), generator=g, dtype=torch.float64))
        u_t.append(torch.rand(5, generator=g, dtype=torch.float64))
    am_rng = acc.mala_sample(gaussian_log_prob, gaussian_score, t(x0), rng=torch.Generator().manual_seed(4), **kw)
    am_noise = acc.mala_sample(
        gaussian_log_prob, gaussian_score, t(x0), noise=torch.stack(z_t), uniforms=torch.stack(u_t), **kw
    )
    torch.testing.assert_close(am_rng, am_noise, rtol=0, atol=0)


def test_determinism_and_progress_bar_change_nothing(capsys):
    rng = np.random.default_rng(5)
    x0, noise, u = rng.normal(size=(6, 2)), rng.normal(size=(5, 6, 2)), rng.uniform(size=(5, 6))
    for side, conv in ((ref, np.asarray), (acc, t)):
        runs = [
            side.mala_sample(
                gaussian_log_prob,
                gaussian_score,
                conv(x0),
                step_size=2.0,
                n_steps=5,
                noise=conv(noise),
                uniforms=conv(u),
                progress=progress,
            )
            for progress in (False, True, False)
        ]
        for run in runs[1:]:
            for field_a, field_b in zip(runs[0], run):
                np.testing.assert_array_equal(np.asarray(field_a), np.asarray(field_b))
        annealed = [
            side.annealed_langevin_sample(
                noisy_score,
                conv(x0),
                [2.0, 1.0],
                step_size=0.1,
                n_steps_each=2,
                noise=conv(noise[:4].reshape(2, 2, 6, 2)),
                progress=progress,
            ).samples
            for progress in (False, True)
        ]
        np.testing.assert_array_equal(np.asarray(annealed[0]), np.asarray(annealed[1]))
    assert "MALA" in capsys.readouterr().err  # the bar was shown


# ---------------------------------------------------------------- annealed Langevin


def test_annealed_step_sizes_and_denoising_by_hand():
    sigmas = np.array([4.0, 2.0, 1.0])
    eta, T = 0.01, 2
    rng = np.random.default_rng(6)
    x0, noise = rng.normal(size=(3, 2)), rng.normal(size=(3, T, 3, 2))
    x = x0.copy()
    for i, sigma in enumerate(sigmas):
        alpha = eta * (sigma / sigmas[-1]) ** 2  # NCSN: 0.16, 0.04, 0.01
        for step in range(T):
            x = x + alpha / 2 * noisy_score(x, sigma) + math.sqrt(alpha) * noise[i, step]
    denoised = x + sigmas[-1] ** 2 * noisy_score(x, sigmas[-1])
    seen = []

    def recording_score(x, sigma):
        # the model-call protocol of training (ncsn_loss): sigma of shape (n,), like x (array / tensor, dtype)
        assert sigma.shape == x.shape[:1] and type(sigma) is type(x) and sigma.dtype == x.dtype
        assert float(sigma.max()) == float(sigma.min())
        seen.append(float(sigma[0]))
        return noisy_score(x, sigma)

    kw = {"step_size": eta, "n_steps_each": T, "record_steps": (6,)}
    r = ref.annealed_langevin_sample(recording_score, x0, sigmas, noise=noise, denoise=True, **kw)
    assert seen == [4.0, 4.0, 2.0, 2.0, 1.0, 1.0, 1.0]  # T per level, then the denoising step
    a = acc.annealed_langevin_sample(recording_score, t(x0), t(sigmas), noise=t(noise), denoise=True, **kw)
    assert seen[7:] == seen[:7]
    for out in (r, a):
        np.testing.assert_allclose(np.asarray(out.samples), denoised, rtol=1e-13)
        np.testing.assert_allclose(np.asarray(out.trajectory)[0], x, rtol=1e-13)  # recorded before denoising


# ---------------------------------------------------------------- MALA


def test_mala_accepts_and_rejects_by_the_log_ratio():
    x0 = np.array([[0.0], [3.0]])
    z = np.array([[[1.0], [0.0]]])
    eta = 1.0
    x_prop = x0 + eta / 2 * gaussian_score(x0) + z[0]
    r = ref.mala_log_acceptance_ratio(
        x0,
        x_prop,
        gaussian_log_prob(x0),
        gaussian_log_prob(x_prop),
        gaussian_score(x0),
        gaussian_score(x_prop),
        step_size=eta,
    )

    # By hand: log q(b | a) = -|b - a - (eta/2) s(a)|^2 / (2 eta) for the proposal N(a + (eta/2) s(a), eta I).
    def log_q(b, a):
        return -((b - a - eta / 2 * gaussian_score(a)) ** 2).sum(-1) / (2 * eta)

    expected = gaussian_log_prob(x_prop) - gaussian_log_prob(x0) + log_q(x0, x_prop) - log_q(x_prop, x0)
    np.testing.assert_allclose(r, expected, rtol=1e-14)
    assert r[0] < 0 < r[1]  # chain 0 moves away from the mode, chain 1 towards it
    u_reject = np.array([[math.exp(r[0]) * 1.01, 1.0]])  # log u > r[0]: reject; u = 1 < e^{r[1]}: accept
    for side, conv in ((ref, np.asarray), (acc, t)):
        out = side.mala_sample(
            gaussian_log_prob,
            gaussian_score,
            conv(x0),
            step_size=eta,
            n_steps=1,
            noise=conv(z),
            uniforms=conv(u_reject),
        )
        np.testing.assert_allclose(np.asarray(out.samples), [[0.0], x_prop[1]], rtol=1e-15)
        np.testing.assert_array_equal(np.asarray(out.acceptance_rate), [0.0, 1.0])
        empty = side.mala_sample(
            gaussian_log_prob,
            gaussian_score,
            conv(x0),
            step_size=eta,
            n_steps=0,
            noise=conv(np.zeros((0, 2, 1))),
            uniforms=conv(np.zeros((0, 2))),
        )
        assert np.all(np.isnan(np.asarray(empty.acceptance_rate)))


# ---------------------------------------------------------------- bad input


# The bad inputs of the five pairs (shapes, counts, scales, callables, sigmas, uniforms) are registered in
# crosscheck/pairs/langevin/ and run on both sides by tests/test_error_inputs.py; the rng protocol
# (a generator of each side's own type) stays here.


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_rng_protocol_bad_input(side):
    lib, conv = (ref, np.asarray) if side == "reference" else (acc, t)
    rng = np.random.default_rng(0) if side == "reference" else torch.Generator().manual_seed(0)
    x0, noise = conv(np.zeros((3, 2))), conv(np.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match=r"pass exactly one of noise= .* got both"):
        lib.langevin_sample(gaussian_score, x0, step_size=0.1, n_steps=2, noise=noise, rng=rng)
    with pytest.raises(ValueError, match="uniforms: pass uniforms= together with noise="):
        lib.mala_sample(
            gaussian_log_prob, gaussian_score, x0, step_size=0.1, n_steps=2, rng=rng, uniforms=conv(np.zeros((2, 3)))
        )
    other = torch.Generator() if side == "reference" else np.random.default_rng(0)
    with pytest.raises(TypeError, match="rng: expected a"):
        lib.annealed_langevin_sample(noisy_score, x0, [2.0, 1.0], step_size=0.1, n_steps_each=1, rng=other)


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_numpy_scalars_are_accepted_alike_and_float_counts_refused(side):
    lib, conv = (ref, np.asarray) if side == "reference" else (acc, t)
    x0 = conv(np.ones((2, 1)))
    plain = lib.langevin_sample(gaussian_score, x0, step_size=0.5, n_steps=3, noise=conv(np.zeros((3, 2, 1))))
    numpy = lib.langevin_sample(
        gaussian_score, x0, step_size=np.float32(0.5), n_steps=np.int64(3), noise=conv(np.zeros((3, 2, 1)))
    )
    np.testing.assert_array_equal(np.asarray(numpy.samples), np.asarray(plain.samples))  # (1 - 0.5/4)^3 = 0.669921875
    np.testing.assert_array_equal(np.asarray(plain.samples), 0.669921875)
    out = lib.annealed_langevin_sample(
        noisy_score,
        x0,
        [np.float64(2.0), np.float32(1.0), 0.5],
        step_size=np.float64(0.1),
        n_steps_each=np.int32(1),
        noise=conv(np.zeros((3, 1, 2, 1))),
        record_steps=(np.int64(0), 3),
    )
    assert np.asarray(out.trajectory).shape == (2, 2, 1)
    for bad in (3.0, np.float64(3.0), True):
        with pytest.raises(TypeError, match="n_steps: expected an integer"):
            lib.langevin_sample(gaussian_score, x0, step_size=0.5, n_steps=bad, noise=conv(np.zeros((3, 2, 1))))
    with pytest.raises(TypeError, match="n_steps_each: expected an integer"):
        lib.annealed_langevin_sample(
            noisy_score, x0, [1.0], step_size=0.1, n_steps_each=1.0, noise=conv(np.zeros((1, 1, 2, 1)))
        )


def test_accelerated_refuses_mixed_dtypes_and_devices():
    x0 = torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(TypeError, match="x0, noise: expected one floating dtype"):
        acc.langevin_sample(gaussian_score, x0, step_size=0.1, n_steps=1, noise=torch.zeros(1, 3, 2))
    with pytest.raises(TypeError, match="x, noise: expected one floating dtype"):
        acc.langevin_step(x0, x0, step_size=0.1, noise=torch.zeros(3, 2))
    with pytest.raises(TypeError, match="score_fn: expected a floating result on the device of x"):
        acc.langevin_sample(lambda x: x.long(), x0, step_size=0.1, n_steps=1, rng=torch.Generator())
    # a score in another floating dtype (a network under autocast) is cast: the chain stays in x0's dtype
    assert acc.langevin_step(x0, torch.zeros(3, 2), step_size=0.1, noise=x0).dtype == torch.float64
    out = acc.langevin_sample(lambda x: x.float(), x0, step_size=0.1, n_steps=1, rng=torch.Generator())
    assert out.samples.dtype == torch.float64
    with pytest.raises(TypeError, match=r"x0: expected a torch.Tensor"):
        acc.langevin_sample(gaussian_score, np.zeros((3, 2)), step_size=0.1, n_steps=1, rng=torch.Generator())


def test_sampler_is_differentiable_in_x0():
    # x_K = c^K x0 + noise terms for the score -x/2: d sum(x_K) / d x0 = c^K, c = 1 - eta/4.
    x0 = torch.tensor([[0.5, -0.2]], dtype=torch.float64, requires_grad=True)
    out = acc.langevin_sample(
        gaussian_score, x0, step_size=0.2, n_steps=5, noise=torch.ones(5, 1, 2, dtype=torch.float64)
    )
    out.samples.sum().backward()
    np.testing.assert_allclose(x0.grad.numpy(), (1.0 - 0.2 / 4.0) ** 5, rtol=1e-14)


# ---------------------------------------------------------------- slide theorem: ULA's stationary variance


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_ula_stationary_variance(side):
    outcome = check_theorem(_theorem("stationary variance"), Side(side, quick=True), raise_errors=True)
    ev = outcome.evidence
    assert ev.passed, ev.detail


def _theorem(text):
    from crosscheck.registry import THEOREMS

    assert theorems.ula_stationary_variance  # registered on import
    (thm,) = [th for th in THEOREMS if text in th.name]
    return thm


def test_sampler_loops_switch_the_library_value_checks_off():
    """Inside the loop, this library's data-reading checks (host syncs on a GPU) are off; after it, on."""
    from accelerated import _checks
    from accelerated import langevin as acc_langevin

    seen = []

    def score_fn(x):
        seen.append(_checks.value_checks_active())
        return -x

    x0 = torch.zeros(4, 2, dtype=torch.float64)
    acc_langevin.langevin_sample(
        score_fn, x0, step_size=0.1, n_steps=3, noise=torch.zeros(3, 4, 2, dtype=torch.float64)
    )
    assert seen == [False, False, False]
    assert _checks.value_checks_active()


# ---------------------------------------------------------------- issue 12: diverging chains


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_a_diverging_chain_says_so_not_x_expected_finite(side):
    """An overflowing chain on a library score (which refuses non-finite x) raises the divergence error."""
    from accelerated import distributions as AD
    from reference import distributions as RD

    conv = np.asarray if side == "reference" else t
    lib, D = (ref, RD) if side == "reference" else (acc, AD)
    target = D.Gaussian(conv(np.zeros(2)), conv(np.eye(2)))
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(ValueError, match="the chain diverged"):
        lib.langevin_sample(
            target.score, conv(np.ones((3, 2))), step_size=1e3, n_steps=300, noise=conv(np.zeros((300, 3, 2)))
        )


def test_in_place_step_refuses_an_expanded_view_naming_x():
    x = torch.zeros(1, 2, dtype=torch.float64).expand(3, 2)
    z = torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"x: expected a tensor whose elements occupy distinct memory"):
        acc.langevin_step_(x, z, step_size=0.1, noise=z)
    y = x.clone()
    assert acc.langevin_step_(y, z, step_size=0.1, noise=z) is y  # a clone updates in place as before


# ---------------------------------------------------------------- issue 12: the steps refuse a non-finite state


@pytest.mark.parametrize(
    ("bad_arg", "value", "match"),
    [
        ("score", math.nan, "score: expected finite values"),
        ("score", math.inf, "score: expected finite values"),
        ("noise", math.nan, "noise: expected finite values"),
        ("noise", -math.inf, "noise: expected finite values"),
        ("x", math.nan, "x: expected finite values"),
        ("x", math.inf, "x: expected finite values"),
        ("x", 1e300, "x, score, noise, step_size: the result overflowed float64 from finite inputs"),
    ],
)
def test_in_place_step_refuses_non_finite_inputs_and_says_x_was_updated(bad_arg, value, match):
    """langevin_step_ refuses what langevin_step refuses; x then holds the new (non-finite) states, as documented."""

    def inputs():
        a = {k: torch.ones(3, 2, dtype=torch.float64) for k in ("x", "score", "noise")}
        a[bad_arg] = torch.full((3, 2), value, dtype=torch.float64)
        if value == 1e300:
            a["score"] = torch.full((3, 2), 1e307, dtype=torch.float64)  # (eta / 2) s = 5e308 overflows at eta = 100
        return a

    eta = 100.0 if value == 1e300 else 0.1
    a = inputs()
    in_place = "x, step_size: the updated states .* not finite" if bad_arg == "x" else match
    with pytest.raises(ValueError, match=in_place):
        acc.langevin_step_(a["x"], a["score"], step_size=eta, noise=a["noise"])
    assert not torch.isfinite(a["x"]).all()  # updated in place before the check: the state after a refusal
    a = inputs()
    with pytest.raises(ValueError, match=match):
        acc.langevin_step(a["x"], a["score"], step_size=eta, noise=a["noise"])
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(ValueError, match=match),
    ):
        ref.langevin_step(*(a[k].numpy() for k in ("x", "score")), step_size=eta, noise=a["noise"].numpy())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_in_place_step_refuses_an_update_beyond_the_dtype_range(dtype):
    """A low-precision x whose update exceeds its range is refused: a float64 score at 1e300 (inf in x's dtype),
    or a score of x's dtype near its largest value."""
    x = torch.ones(3, 2, dtype=dtype)
    with pytest.raises(ValueError, match=r"score: expected finite values"):
        acc.langevin_step_(x, torch.full((3, 2), 1e300, dtype=torch.float64), step_size=0.1, noise=torch.zeros_like(x))
    big = torch.full((3, 2), torch.finfo(dtype).max, dtype=dtype)
    with pytest.raises(ValueError, match=r"x, step_size: the updated states .* overflowed"):
        acc.langevin_step_(torch.ones_like(x), big, step_size=4.0, noise=torch.zeros_like(x))
    y = torch.ones(3, 2, dtype=dtype)  # an ordinary step is unchanged
    acc.langevin_step_(y, torch.ones(3, 2, dtype=dtype), step_size=0.04, noise=torch.zeros(3, 2, dtype=dtype))
    assert torch.allclose(y.float(), torch.full((3, 2), 1.02), atol=1e-2)


def test_in_place_step_checks_are_off_where_value_checks_are_off():
    from accelerated import _checks as C

    x = torch.ones(3, 2, dtype=torch.float64)
    with C.value_checks(False):
        acc.langevin_step_(
            x, torch.full((3, 2), math.nan, dtype=torch.float64), step_size=0.1, noise=torch.zeros_like(x)
        )
    assert torch.isnan(x).all()


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_mala_log_ratio_is_minus_inf_not_nan_where_both_log_densities_are_minus_inf(side):
    lib, conv = (ref, np.asarray) if side == "reference" else (acc, t)
    x = conv(np.zeros((2, 1)))
    r = lib.mala_log_acceptance_ratio(
        x, x, conv(np.array([-np.inf, 0.0])), conv(np.array([-np.inf, -np.inf])), x, x, step_size=0.1
    )
    assert np.asarray(r).tolist() == [-np.inf, -np.inf]
    r = lib.mala_log_acceptance_ratio(x, x, conv(np.array([-np.inf, 0.0])), conv(np.zeros(2)), x, x, step_size=0.1)
    assert np.asarray(r).tolist() == [np.inf, 0.0]


# ---------------------------------------------------------------- per-step step sizes alpha_t (Advanced Course L8)


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_per_step_sizes_constant_equal_the_scalar_and_follow_the_schedule(side):
    lib, conv = (ref, np.asarray) if side == "reference" else (acc, t)
    rng = np.random.default_rng(3)
    x0, noise = rng.standard_normal((4, 2)), rng.standard_normal((3, 4, 2))
    scalar = lib.langevin_sample(gaussian_score, conv(x0), step_size=0.2, n_steps=3, noise=conv(noise))
    for sizes in ([0.2] * 3, np.full(3, 0.2), conv(np.full(3, 0.2))):
        out = lib.langevin_sample(gaussian_score, conv(x0), step_size=sizes, n_steps=3, noise=conv(noise))
        np.testing.assert_array_equal(np.asarray(out.samples), np.asarray(scalar.samples))
    alphas = [0.4, 0.2, 0.1]
    x = x0.copy()
    for k, a in enumerate(alphas):  # by hand: x + (a/2) s(x) + sqrt(a) z
        x = x + a / 2 * gaussian_score(x) + math.sqrt(a) * noise[k]
    out = lib.langevin_sample(gaussian_score, conv(x0), step_size=conv(np.array(alphas)), n_steps=3, noise=conv(noise))
    np.testing.assert_allclose(np.asarray(out.samples), x, rtol=1e-14, atol=1e-14)
