"""Command line for the sample-quality metrics: ``python -m accelerated {fid,prdc,is,stats} ...``.

One-sided (accelerated only): a command line computes no formula of its own (it calls
:mod:`accelerated.metrics` and :func:`reference.metrics.save_statistics`); it exists for large feature
files and GPUs, which is what the accelerated side is for, so the reference has no twin of it.

Inputs are NumPy files:

* ``.npy``: a 2-D array, one sample (feature vector, or class-probability row) per row; it is
  memory-mapped and streamed in row batches, so FID statistics of files larger than memory work;
* ``.npz`` with arrays ``mu`` and ``sigma``: saved statistics, accepted wherever FID needs statistics.
  Two conventions are read, and ``fid`` prints which one it found for each input:

  - ``dgm-formulas (mu, sigma, n)``: written by :func:`reference.metrics.save_statistics` and
    ``python -m accelerated stats``, with the sample count ``n`` (0 if it was not known);
  - ``pytorch-fid/clean-fid (mu, sigma; no n)``: the files of pytorch-fid (``--save-stats``) and
    clean-fid (``make_custom_stats`` and its reference statistics), which both write
    ``np.savez_compressed(path, mu=..., sigma=...)`` with ``sigma = np.cov(features, rowvar=False)``,
    the unbiased covariance (divisor n - 1) that this library uses too, so sigma is taken as it is.
    Such a file does not record n: it is reported as 0, "not recorded" (the documented sentinel of
    :attr:`reference.metrics.FeatureStatistics.n`). FID needs no n: the Frechet distance is a function
    of mu and sigma alone; only estimates that need the samples (FID_inf, KID) would, and those take
    features, not statistics;
* ``.npz`` with a single array (or one named ``features``): a 2-D array as for ``.npy``.

Nothing is ever unpickled (``allow_pickle=False``). An unreadable input (empty, truncated or corrupted,
a statistics file :func:`reference.metrics.load_statistics` refuses) is a one-line ``error: ...``
naming the file, exit status 1, never a traceback. Examples::

    python -m accelerated fid real.npy fake.npy --device cuda --batch-size 8192
    python -m accelerated fid real_stats.npz fake.npy --json
    python -m accelerated stats real.npy -o real_stats.npz
    python -m accelerated prdc real.npy fake.npy --k 5
    python -m accelerated is probs.npy --splits 10

Exit status: 0 on success, 1 when an input is refused (the message says why), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from . import metrics

__all__ = ["main"]


class InputError(ValueError):
    """An input file that cannot be used; the message names the file and what was expected."""


def _load(path: str) -> tuple[str, object]:
    """('stats', FeatureStatistics of NumPy arrays) or ('array', 2-D array-like, memory-mapped for .npy)."""
    from reference.metrics import load_statistics

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such file")
    if p.suffix == ".npy":
        try:
            array = np.load(p, mmap_mode="r", allow_pickle=False)
        except (ValueError, EOFError, OSError) as err:
            raise InputError(f"{path}: cannot read as a plain .npy array ({err})") from err
        return "array", _check_2d(path, array)
    if p.suffix != ".npz":
        raise InputError(f"{path}: expected a .npy or .npz file, got suffix {p.suffix!r}")
    names = _npz_names(path)
    if "mu" in names and "sigma" in names:
        try:
            return "stats", load_statistics(p)
        except ValueError as err:
            raise InputError(str(err)) from err
    key = "features" if "features" in names else (names[0] if len(names) == 1 else None)
    if key is None:
        raise InputError(
            f"{path}: expected statistics (arrays 'mu' and 'sigma') or a single array (or one named 'features'), "
            f"got arrays {names}"
        )
    try:
        with np.load(p, allow_pickle=False) as data:
            array = data[key]
    except ValueError as err:  # NumPy refuses object arrays, and malformed headers or short data, alike
        reason = "a pickled object array; refusing to unpickle it" if "allow_pickle" in str(err) else str(err)
        raise InputError(f"{path}: cannot read array {key!r}: {reason}") from err
    except _READ_ERRORS as err:
        raise InputError(f"{path}: cannot read array {key!r} (truncated or corrupted: {err})") from err
    return "array", _check_2d(path, array)


_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError)


def _npz_names(path: str) -> list[str]:
    """The array names of an ``.npz`` archive, or an InputError saying why it is none."""
    try:
        with zipfile.ZipFile(path) as archive:
            return [name[: -len(".npy")] for name in archive.namelist() if name.endswith(".npy")]
    except _READ_ERRORS as err:
        raise InputError(f"{path}: cannot read as an .npz archive (empty, truncated or corrupted: {err})") from err


PYTORCH_FID = "pytorch-fid/clean-fid (mu, sigma; no n)"
DGM_FORMULAS = "dgm-formulas (mu, sigma, n)"


def _read_as(path: str, kind: str, value: object) -> str:
    """What an input was read as: features (with their row count) or statistics in one of two conventions."""
    if kind == "array":
        return f"features ({value.shape[0]} rows)"
    return DGM_FORMULAS if "n" in _npz_names(path) else PYTORCH_FID


def _check_2d(path: str, array: np.ndarray) -> np.ndarray:
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise InputError(f"{path}: expected a 2-D numeric array (one sample per row), got {array.dtype} {array.shape}")
    return array


def _batch(array: np.ndarray, start: int, stop: int, device: torch.device) -> torch.Tensor:
    block = torch.from_numpy(np.array(array[start:stop]))  # copies the rows out of the memory map
    if not block.is_floating_point():
        block = block.to(torch.float64)
    return block.to(device)


def _whole(array: np.ndarray, device: torch.device) -> torch.Tensor:
    return _batch(array, 0, array.shape[0], device)


def _statistics(path: str, kind: str, value: object, args: argparse.Namespace) -> metrics.FeatureStatistics:
    """Statistics of one input: loaded from a statistics file, or streamed over row batches of features."""
    device = torch.device(args.device)
    if kind == "stats":
        mu, sigma, n = value
        return metrics.FeatureStatistics(torch.from_numpy(mu).to(device), torch.from_numpy(sigma).to(device), n)
    array = value
    try:
        acc = metrics.StreamingStatistics(array.shape[1])
        starts = range(0, array.shape[0], args.batch_size)
        for start in _progress(starts, f"statistics of {Path(path).name}", args):
            acc.update(_batch(array, start, start + args.batch_size, device))
        return acc.finalize()
    except ValueError as err:  # the file's rows: non-finite, overflowing, too few, too wide
        raise InputError(f"{path}: {err}") from err


def _progress(iterable: range, desc: str, args: argparse.Namespace):
    if args.no_progress or len(iterable) <= 1:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return iterable
    return tqdm(iterable, desc=desc, unit="batch", file=sys.stderr, disable=None)


def _features_only(path: str, kind: str, value: object, what: str) -> np.ndarray:
    if kind != "array":
        raise InputError(f"{path}: {what} needs the samples themselves, got saved statistics (mu, sigma)")
    return value


def _run_fid(args: argparse.Namespace) -> dict:
    loaded = [_load(path) for path in (args.a, args.b)]
    read_as = [_read_as(path, *item) for path, item in zip((args.a, args.b), loaded)]
    s1, s2 = (_statistics(path, *item, args) for path, item in zip((args.a, args.b), loaded))
    if s1.mu.shape != s2.mu.shape:
        raise InputError(f"{args.a} and {args.b}: feature dimensions differ ({s1.mu.shape[0]} and {s2.mu.shape[0]})")
    value = metrics.frechet_distance(s1.mu, s1.sigma, s2.mu, s2.sigma)
    return {
        "fid": float(value),
        "n": [s1.n, s2.n],
        "dim": int(s1.mu.shape[0]),
        "inputs": [{"path": str(path), "read_as": how} for path, how in zip((args.a, args.b), read_as)],
    }


def _run_stats(args: argparse.Namespace) -> dict:
    from reference.metrics import FeatureStatistics, save_statistics

    kind, value = _load(args.a)
    s = _statistics(args.a, kind, _features_only(args.a, kind, value, "stats"), args)
    save_statistics(args.output, FeatureStatistics(s.mu.cpu().numpy(), s.sigma.cpu().numpy(), s.n))
    return {"output": str(args.output), "n": s.n, "dim": int(s.mu.shape[0])}


def _run_prdc(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    real = _whole(_features_only(args.a, *_load(args.a), "prdc"), device)
    fake = _whole(_features_only(args.b, *_load(args.b), "prdc"), device)
    if real.dtype != fake.dtype:
        real, fake = real.to(torch.float64), fake.to(torch.float64)
    result = metrics.prdc(real, fake, k=args.k, block_size=args.block_size)
    return {name: float(v) for name, v in result._asdict().items()} | {"k": args.k, "n": [real.shape[0], fake.shape[0]]}


def _run_is(args: argparse.Namespace) -> dict:
    probs = _whole(_features_only(args.a, *_load(args.a), "is"), torch.device(args.device))
    score = metrics.inception_score(probs, splits=args.splits)
    parts = metrics.inception_score_components(probs)
    return {
        "inception_score": float(score.mean),
        "std": float(score.std),
        "splits": args.splits,
        "sharpness": float(parts.sharpness),
        "diversity": float(parts.diversity),
        "n": int(probs.shape[0]),
    }


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m accelerated",
        description="Sample-quality metrics (FID, precision/recall/density/coverage, Inception Score) from "
        "feature files. See `python -m accelerated COMMAND --help`.",
    )
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--device", default=default_device, help=f"torch device (default: {default_device})")
    common.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    common.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    common.add_argument(
        "--batch-size", type=_positive, default=4096, help="rows per batch when streaming statistics (default 4096)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fid", parents=[common], help="Frechet distance between two feature files or statistics")
    stats_help = "features (.npy/.npz) or saved statistics (.npz with mu, sigma: pytorch-fid's, clean-fid's or ours)"
    p.add_argument("a", help=stats_help)
    p.add_argument("b", help=stats_help)
    p.set_defaults(run=_run_fid)

    p = sub.add_parser("stats", parents=[common], help="save the mean and covariance of a feature file")
    p.add_argument("a", help="features (.npy/.npz)")
    p.add_argument("-o", "--output", required=True, help="output .npz (keys mu, sigma, n)")
    p.set_defaults(run=_run_stats)

    p = sub.add_parser("prdc", parents=[common], help="precision, recall, density and coverage")
    p.add_argument("a", help="real features (.npy/.npz)")
    p.add_argument("b", help="generated features (.npy/.npz)")
    p.add_argument("--k", type=_positive, default=5, help="nearest-neighbour order (default 5)")
    p.add_argument("--block-size", type=_positive, default=None, help="rows of distances per block")
    p.set_defaults(run=_run_prdc)

    p = sub.add_parser("is", parents=[common], help="Inception Score of class probabilities")
    p.add_argument("a", help="class probabilities, one row per sample (.npy/.npz)")
    p.add_argument("--splits", type=_positive, default=10, help="number of splits (default 10)")
    p.set_defaults(run=_run_is)
    return parser


def _text(command: str, result: dict) -> str:
    if command == "fid":
        lines = [f"FID: {result['fid']:.6f}"]
        for item, n in zip(result["inputs"], result["n"]):
            note = ""
            if item["read_as"] == PYTORCH_FID:
                note = " (n not recorded, reported as 0; FID needs only mu and sigma)"
            elif item["read_as"] == DGM_FORMULAS:
                note = f", n = {n}" + (" (not recorded)" if n == 0 else "")
            lines.append(f"{item['path']}: read as {item['read_as']}{note}")
        return "\n".join(lines)
    if command == "stats":
        return f"saved statistics of {result['n']} rows (d = {result['dim']}) to {result['output']}"
    if command == "prdc":
        names = ("precision", "recall", "density", "coverage")
        return "\n".join(f"{name}: {result[name]:.6f}" for name in names)
    return (
        f"Inception Score: {result['inception_score']:.6f} +- {result['std']:.6f} ({result['splits']} splits)\n"
        f"sharpness: {result['sharpness']:.6f}\ndiversity: {result['diversity']:.6f}"
    )


def _check_device(name: str) -> None:
    device = torch.device(name)  # RuntimeError for a malformed name
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device: {name!r} requested but CUDA is not available on this machine")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        _check_device(args.device)
        result = args.run(args)
    except (InputError, ValueError, TypeError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory (an input larger than this machine can hold?)", file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else _text(args.command, result))
    return 0
