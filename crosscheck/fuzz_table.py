"""The fuzz table: a valid call of every public name that is not a registered pair, and the exemptions.

:mod:`crosscheck.fuzz` mutates a valid call of each public function, method and constructor of both
sides. A registered pair brings its own valid call (its strategy's first finite example); every other
public name has a :class:`Probe` here: a valid float64 call written out by hand, built on either side
from that side's module. A name that takes no data argument to mutate (a mode switch, a result record,
a warning category, a method that takes only a device) is in :data:`EXEMPT` with its reason.
``tests/test_fuzz.py`` requires that every public name of both sides (topic ``__all__``, the public
methods of every public class, :mod:`accelerated.distributed`, the top-level names) is a pair, a probe
or an exemption, so a function added later joins the table or the test fails.

:data:`DOCUMENTED_INF` lists the pointwise functions that return ±inf where the exact value is beyond
the float range (log densities far in the tails, an energy at the data's overflow); the docstring of
each says so, and the test checks that it does. Summaries (losses, divergences, distances, metrics)
refuse an overflow instead (:func:`reference._checks.check_result`).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .agree import Case


@dataclass(frozen=True)
class Probe:
    """A valid call of a public name that no registered pair covers.

    ``build(module)`` returns the callable on one side, given that side's topic module (or ``None``
    where the name is one-sided and the module lacks it); the callable's parameter names are the names
    a refusal may cite. ``case`` holds float64 NumPy arrays and Python numbers, converted per side.
    """

    name: str
    build: Callable[[Any], Callable | None]
    case: Case
    sides: tuple[str, ...] = ("reference", "accelerated")

    @property
    def topic(self) -> str:
        return self.name.split(".")[0]

    def functions(self) -> tuple[Callable | None, Callable | None]:
        out = []
        for side in ("reference", "accelerated"):
            if side not in self.sides:
                out.append(None)
                continue
            module = importlib.import_module(f"{side}.{self.topic}")
            out.append(self.build(module))
        return out[0], out[1]

    def params(self) -> list[str]:
        """The names a refusal may cite: the call's arguments, and the method's own name (``finalize``)."""
        fn = next(f for f in self.functions() if f is not None)
        return [*inspect.signature(fn).parameters, self.name.rsplit(".", 1)[-1]]


def _rng(module: Any) -> Any:
    """A seeded generator of the side's kind (the probes' draws are then reproducible)."""
    if module.__name__.startswith("reference"):
        return np.random.default_rng(0)
    import torch

    return torch.Generator().manual_seed(0)


_X = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]])  # n = 3 samples in d = 2
_COV = np.array([[2.0, 0.5], [0.5, 1.0]])
_W = np.array([[1.0, 0.5], [-0.5, 2.0], [0.25, 0.0]])  # (h, d): 3 hidden units on 2 features
_BETAS = np.linspace(1e-3, 0.2, 6)


def _on(path: str, ctor: tuple[str, ...], method: str | None = None, args: tuple[str, ...] = ()) -> Callable:
    """``build(m)`` for ``m.<path>(*ctor)`` (a constructor, or a class method such as ``from_1d``), then
    ``.<method>(*args)`` if a method is named: one callable whose signature names every argument."""

    def build(m: Any) -> Callable:
        def call(*values: Any) -> Any:
            obj = m
            for part in path.split("."):
                obj = getattr(obj, part)
            made = obj(*values[: len(ctor)])
            return made if method is None else getattr(made, method)(*values[len(ctor) :])

        call.__signature__ = _signature((*ctor, *args))  # type: ignore[attr-defined]
        return call

    return build


def _streaming(step: str) -> Callable:
    """``StreamingStatistics(2)`` fed ``batch`` (and, to merge, a second one fed ``other``)."""

    def build(m: Any) -> Callable:
        def update(batch: Any) -> Any:
            return m.StreamingStatistics(2).update(batch)

        def finalize(batch: Any) -> Any:
            return m.StreamingStatistics(2).update(batch).finalize()

        def merge(batch: Any, other: Any) -> Any:
            return m.StreamingStatistics(2).update(batch).merge(m.StreamingStatistics(2).update(other)).finalize()

        return {"update": update, "finalize": finalize, "merge": merge}[step]

    return build


def _flattened(method: str | None) -> Callable:
    """``Flattened(LinearScore(W, b))`` on 2 x 2 images, then ``method(x)`` if named."""

    def build(m: Any) -> Callable:
        def make(W: Any, b: Any) -> Any:
            return m.Flattened(m.LinearScore(W, b))

        def call(W: Any, b: Any, x: Any) -> Any:
            return getattr(make(W, b), method)(x)

        return make if method is None else call

    return build


def _gaussian_eps(m: Any) -> Callable:
    def call(mean: Any, cov: Any, x_t: Any) -> Any:
        return m.GaussianEps(mean, cov, m.Schedule(_side_array(m, _BETAS)))(x_t, _side_array(m, _T))

    return call


def _gaussian_eps_init(m: Any) -> Callable:
    def make(mean: Any, cov: Any, betas: Any) -> Any:
        return m.GaussianEps(mean, cov, m.Schedule(betas))

    return make


def _init_mlp_params(m: Any) -> Callable:
    def call(d: Any, hidden: Any, cond_dim: Any = 0) -> Any:
        return m.init_mlp_params(d, hidden, cond_dim=cond_dim, rng=np.random.default_rng(0))

    return call


def _langevin_step_(m: Any) -> Callable:
    def call(x: Any, score: Any, step_size: Any, noise: Any) -> Any:
        return m.langevin_step_(x, score, step_size=step_size, noise=noise)

    return call


def _probes() -> list[Probe]:
    g, mu, h = np.array([0.3, 0.7]), np.array([[0.0, 0.0], [1.0, -1.0]]), np.array([0.5, -1.0])
    covs = np.stack([_COV, np.eye(2)])
    gauss, mixture, mlp_names = ("mean", "cov"), ("weights", "means", "covs"), ("W1", "b1", "W2", "b2")
    critic = (_W.T.copy(), np.zeros(3), np.ones(3))  # W (d, h), b (h,), a (h,)
    mlp = (_W.T.copy(), np.zeros(3), _W, np.array([0.1, -0.1]))  # W1 (d, h), b1 (h,), W2 (h, d), b2 (d,)
    images = np.arange(8.0).reshape(2, 2, 2) / 8
    p = [
        Probe("gan.TanhCritic", _on("TanhCritic", ("W", "b", "a")), Case(critic)),
        Probe("gan.TanhCritic.__call__", _on("TanhCritic", ("W", "b", "a"), "__call__", ("x",)), Case((*critic, _X))),
        Probe("gan.TanhCritic.grad", _on("TanhCritic", ("W", "b", "a"), "grad", ("x",)), Case((*critic, _X))),
        Probe("metrics.StreamingStatistics", _on("StreamingStatistics", ("dim",)), Case((2,))),
        Probe("metrics.StreamingStatistics.update", _streaming("update"), Case((_X,))),
        Probe("metrics.StreamingStatistics.finalize", _streaming("finalize"), Case((_X,))),
        Probe("metrics.StreamingStatistics.merge", _streaming("merge"), Case((_X, _X[::-1].copy()))),
        Probe("distributions.Gaussian", _on("Gaussian", gauss), Case((h, _COV))),
        Probe("distributions.GaussianMixture", _on("GaussianMixture", mixture), Case((g, mu, covs))),
        Probe(
            "distributions.GaussianMixture.from_1d",
            _on("GaussianMixture.from_1d", ("weights", "means", "stds")),
            Case((g, np.array([-1.0, 2.0]), np.array([0.5, 1.5]))),
        ),
        Probe("distributions.Gaussian.sample", _on("Gaussian", gauss, "sample", ("noise",)), Case((h, _COV, _X))),
        Probe(
            "distributions.GaussianMixture.sample",
            _on("GaussianMixture", mixture, "sample", ("noise", "uniforms")),
            Case((g, mu, covs, _X, np.array([0.1, 0.5, 0.9]))),
        ),
    ]
    for method in ("log_prob", "score"):
        p.append(
            Probe(
                f"distributions.Gaussian.{method}",
                _on("Gaussian", gauss, method, ("x",)),
                Case((h, _COV, _X)),
            )
        )
    for method in ("log_prob", "responsibilities", "score"):
        build = _on("GaussianMixture", mixture, method, ("x",))
        p.append(Probe(f"distributions.GaussianMixture.{method}", build, Case((g, mu, covs, _X))))
    for cls, ctor, values in (("Gaussian", gauss, (h, _COV)), ("GaussianMixture", mixture, (g, mu, covs))):
        p += [
            Probe(f"distributions.{cls}.convolve", _on(cls, ctor, "convolve", ("sigma",)), Case((*values, 0.5))),
            Probe(
                f"distributions.{cls}.posterior_mean",
                _on(cls, ctor, "posterior_mean", ("y", "sigma")),
                Case((*values, _X, 0.5)),
            ),
        ]
    p += [
        Probe("models.LinearScore", _on("LinearScore", ("W", "b")), Case((_COV, h))),
        Probe("models.MLPScore", _on("MLPScore", ("W1", "b1", "W2", "b2")), Case(mlp)),
        Probe("models.Flattened", _flattened(None), Case((np.eye(4), np.ones(4)))),
        Probe("models.init_mlp_params", _init_mlp_params, Case((2, 3), {"cond_dim": 1}), sides=("reference",)),
    ]
    for method in ("__call__", "jacobian", "divergence"):
        p += [
            Probe(f"models.LinearScore.{method}", _on("LinearScore", ("W", "b"), method, ("x",)), Case((_COV, h, _X))),
            Probe(f"models.MLPScore.{method}", _on("MLPScore", mlp_names, method, ("x",)), Case((*mlp, _X))),
            Probe(f"models.Flattened.{method}", _flattened(method), Case((np.eye(4), np.ones(4), images))),
        ]
    energies = (("DoubleWellEnergy", ("a", "b"), (1.0, 0.5)), ("QuadraticEnergy", ("precision", "mean"), (_COV, h)))
    for cls, ctor, values in energies:
        p.append(Probe(f"energy.{cls}", _on(cls, ctor), Case(values)))
        for method in ("__call__", "grad"):
            p.append(Probe(f"energy.{cls}.{method}", _on(cls, ctor, method, ("x",)), Case((*values, _X))))
    p += [
        Probe("diffusion.Schedule", _on("Schedule", ("betas",)), Case((_BETAS,))),
        Probe("diffusion.GaussianEps", _gaussian_eps_init, Case((h, _COV, _BETAS))),
        Probe("diffusion.GaussianEps.__call__", _gaussian_eps, Case((h, _COV, _X))),
        Probe(
            "langevin.langevin_step_", _langevin_step_, Case((_X, -_X, 0.1, _X[::-1].copy())), sides=("accelerated",)
        ),
    ]
    return p + _distributed()


_T = np.array([1, 2, 3])  # time steps of the three samples


def _side_array(m: Any, a: np.ndarray) -> Any:
    """``a`` as the side's array: NumPy for the reference, a tensor for the accelerated side."""
    if m.__name__.startswith("reference"):
        return a
    import torch

    return torch.from_numpy(a)


def _signature(names: tuple[str, ...]) -> inspect.Signature:
    return inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])


def _distributed() -> list[Probe]:
    """The sharded metrics run without a process group as one rank: their checks are those of one process."""

    def build(name: str, **fixed: Any) -> Callable[[Any], Callable]:
        def get(m: Any) -> Callable:
            fn = getattr(importlib.import_module("accelerated.distributed"), name)
            if name == "kid":
                return lambda features1, features2, subset_size=3: fn(
                    features1, features2, subset_size=subset_size, n_subsets=2, rng=_rng(m)
                )
            return lambda *args, **kwargs: fn(*args, **fixed, **kwargs)

        return get

    x, y = np.vstack([_X, _X[::-1] + 0.5]), np.vstack([_X + 1.0, _X * 2.0])
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])

    def fid(m: Any) -> Callable:
        fn = importlib.import_module("accelerated.distributed").fid
        return lambda features1, features2: fn(features1, features2)

    def prdc(m: Any) -> Callable:
        fn = importlib.import_module("accelerated.distributed").prdc
        return lambda real, fake, k=2: fn(real, fake, k=k)

    def inception(m: Any) -> Callable:
        fn = importlib.import_module("accelerated.distributed").inception_score
        return lambda probs, splits=1: fn(probs, splits=splits)

    one = ("accelerated",)
    return [
        Probe("distributed.fid", fid, Case((x, y)), sides=one),
        Probe("distributed.kid", build("kid"), Case((x, y), {"subset_size": 3}), sides=one),
        Probe("distributed.prdc", prdc, Case((x, y), {"k": 2}), sides=one),
        Probe("distributed.inception_score", inception, Case((probs,), {"splits": 1}), sides=one),
    ]


PROBES: dict[str, Probe] = {p.name: p for p in _probes()}

_RECORD = "a result record (a frozen dataclass or named tuple) returned by {}: its fields are checked in that call"
EXEMPT: dict[str, str] = {
    "gan.C2STResult": _RECORD.format("classifier_two_sample_test"),
    "transport.SinkhornResult": _RECORD.format("sinkhorn"),
    "transport.SinkhornConvergenceWarning": "a warning category, not a function",
    "metrics.KID": _RECORD.format("kid"),
    "metrics.PRDC": _RECORD.format("prdc"),
    "metrics.DensityCoverage": _RECORD.format("density_coverage"),
    "metrics.FIDInfinity": _RECORD.format("fid_infinity"),
    "metrics.FeatureStatistics": _RECORD.format("feature_statistics and StreamingStatistics.finalize"),
    "metrics.InceptionScore": _RECORD.format("inception_score"),
    "metrics.InceptionScoreComponents": _RECORD.format("inception_score_components"),
    "metrics.PrecisionRecall": _RECORD.format("precision_recall"),
    "energy.IsingPosterior": _RECORD.format("ising_posterior"),
    "langevin.LangevinResult": _RECORD.format("langevin_sample and annealed_langevin_sample"),
    "langevin.MALAResult": _RECORD.format("mala_sample"),
    "diffusion.Posterior": _RECORD.format("q_posterior"),
    "metrics.load_statistics": "takes a file path, not data: hostile files are tested in tests/test_metrics.py",
    "metrics.save_statistics": "takes a file path and a FeatureStatistics record: tested in tests/test_metrics.py",
    "metrics.StreamingStatistics.reset": "takes no argument",
    "metrics.StreamingStatistics.all_reduce": "takes a process group only: tests/test_distributed.py runs it",
    "diffusion.Schedule.cast": "takes a table name and a torch dtype, no data: tested in tests/test_diffusion.py",
    "diffusion.Schedule.to": "takes a device, no data: tested in tests/test_devices.py",
    "gan.TanhCritic.forward": "the module's __call__ (probed as gan.TanhCritic.__call__)",
    "models.LinearScore.forward": "the model's __call__ (probed as models.LinearScore.__call__)",
    "models.MLPScore.forward": "the model's __call__ (probed as models.MLPScore.__call__)",
    "models.Flattened.forward": "the model's __call__ (probed as models.Flattened.__call__)",
    "energy.DoubleWellEnergy.forward": "the module's __call__ (probed as energy.DoubleWellEnergy.__call__)",
    "energy.QuadraticEnergy.forward": "the module's __call__ (probed as energy.QuadraticEnergy.__call__)",
    "value_checks": "a mode switch taking a mode name: tested in tests/test_training.py",
    "set_value_checks": "a mode switch taking a mode name: tested in tests/test_training.py",
    "get_value_checks": "reads the mode, takes no argument",
}

# Pointwise functions whose value may be ±inf where the exact value is beyond the float range, each
# documented in its docstring (tests/test_fuzz.py checks that the docstring mentions inf).
DOCUMENTED_INF: dict[str, str] = {
    "distributions.gaussian_log_prob": "log N(x) = -inf where the quadratic form overflows (density 0 in float)",
    "distributions.mixture_log_prob": "log p(x) = -inf where every component's quadratic form overflows",
    "distributions.Gaussian.log_prob": "as gaussian_log_prob",
    "distributions.GaussianMixture.log_prob": "as mixture_log_prob",
    "energy.DoubleWellEnergy.__call__": "E(x) = a (x^2 - b)^2 = inf where x^4 overflows",
    "energy.DoubleWellEnergy.grad": "4 a x (x^2 - b) = ±inf where x^3 overflows",
    "energy.QuadraticEnergy.__call__": "E(x) = (x - m)^T P (x - m) / 2 = inf where it overflows",
    "energy.energy_score": "-grad E = ±inf where the energy's gradient overflows",
    "energy.unnormalized_log_density": "-E(x) = -inf where the energy is inf",
    "gan.gan_value": "V = E log D(x) + E log(1 - D(G(z))) = -inf where D is 0 on data or 1 on samples",
    "langevin.mala_log_acceptance_ratio": "log alpha = -inf (reject) where the proposal's log density underflows",
}

# Known calls that may run past the alarm, each with its reason.
_ALL_ITERATIONS = (
    "tol = 0 is documented as 'run exactly max_iter iterations' (10,000 by default): 1 to 2.5 s in the "
    "reference on two loaded cores, bounded by max_iter, so a timeout there is the alarm and not a hang"
)
SLOW: dict[tuple[str, str, str], str] = {
    ("transport.sinkhorn", "tol", "zero"): _ALL_ITERATIONS,
    ("transport.sinkhorn_divergence", "tol", "zero"): _ALL_ITERATIONS,
}
