"""A small CNN classifier of scikit-learn's 8x8 digits: the examples' stand-in for the Inception network.

FID, KID and precision/recall/density/coverage of the training programs are computed on its
penultimate layer (``FEATURES`` values per image), the Inception Score on its class probabilities.
Trained in seconds on a CPU with a fixed seed (80% of the 1797 images, the other 20% held out), saved
as a state dict::

    python examples/digits_features.py            # -> examples/out/digits_features.pt

It also prints the reference figures of real digits: the Inception Score of all 1797 images, and
FID, KID and PRDC between two random halves of them (what a perfect generator would get, up to the
sample sizes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
FEATURES = 64
DEFAULT_PATH = HERE / "out" / "digits_features.pt"


def digits_images(with_labels: bool = False):
    """The 1797 digits as float32 (1797, 1, 8, 8) in [-1, 1] (pixel values 0..16 map to -1..1); labels too."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 8.0 - 1.0).unsqueeze(1)
    return (x, torch.from_numpy(d.target.astype(np.int64))) if with_labels else x


class DigitsNet(nn.Module):
    """Three convolutions (8x8 -> 4x4), a FEATURES-wide penultimate layer, ten logits. SiLU throughout.

    SiLU rather than ReLU so that no feature is exactly constant over a set of images (a dead ReLU
    unit would make the feature covariance exactly singular). The features are the penultimate
    activations times ``feature_scale``, a constant set after training so that their root mean
    square over the real digits is 1: KID's kernel (x.y / d + 1)^3 then sees values of order 1, as
    with Inception's features, instead of the cube of a large inner product.
    """

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.SiLU(),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, FEATURES),
            nn.SiLU(),
        )
        self.head = nn.Linear(FEATURES, 10)
        self.register_buffer("feature_scale", torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out indices: a fixed permutation, 80% / 20%."""
    perm = np.random.default_rng(seed).permutation(n)
    cut = int(0.8 * n)
    return perm[:cut], perm[cut:]


def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((net(x).argmax(1) == y).double().mean())


def train(path: Path, *, seed: int = 0, epochs: int = 20, verbose: bool = False) -> tuple[float, float]:
    """Train on the fixed 80% split, save the state dict at `path`; returns (train, held-out) accuracy.

    Leaves the global random state as it was (the training programs call it mid-run on one rank).
    """
    x, y = digits_images(with_labels=True)
    tr, te = split(len(x), seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DigitsNet()
        opt = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-4)
        g = torch.Generator().manual_seed(seed)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * ((len(tr) + 63) // 64))
        xt, yt = x[tr], y[tr]
        for _ in range(epochs):
            for idx in torch.randperm(len(xt), generator=g).split(64):
                loss = nn.functional.cross_entropy(net(xt[idx]), yt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    net.eval()
    with torch.no_grad():
        net.feature_scale.copy_(net.body(x).square().mean().rsqrt())
    acc = accuracy(net, x[tr], y[tr]), accuracy(net, x[te], y[te])
    if verbose:
        print(f"digits classifier: train accuracy {acc[0]:.4f}, held-out accuracy {acc[1]:.4f}", flush=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(net.state_dict(), tmp)
    tmp.replace(path)
    return acc


def load_features_net(path: Path, device: torch.device | str = "cpu") -> DigitsNet:
    """The classifier saved at `path`, in float64 on `device`, in eval mode, without gradients.

    float64 so that the features, and every metric computed from them, carry float64 rounding only.
    """
    net = DigitsNet()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return net.double().to(device).eval().requires_grad_(False)


@torch.no_grad()
def features_and_logits(net: DigitsNet, images: torch.Tensor, *, batch: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features (n, FEATURES) and logits (n, 10) of images (n, 1, 8, 8), in the net's dtype.

    The images are cast to the net's dtype and device; computed `batch` rows at a time.
    """
    p = next(net.parameters())
    feats, logits = [], []
    for chunk in images.to(p.device, p.dtype).split(batch):
        h = net.body(chunk)
        feats.append(h * net.feature_scale)
        logits.append(net.head(h))
    return torch.cat(feats), torch.cat(logits)


def reference_metrics(net: DigitsNet, *, seed: int = 0, is_splits: int = 10) -> dict[str, float]:
    """Real digits against themselves: IS of all images; FID, KID, PRDC between two random halves."""
    from accelerated import metrics

    x = digits_images()
    f, logits = features_and_logits(net, x)
    out = {}
    s = metrics.inception_score(torch.softmax(logits, 1), splits=is_splits)
    out["inception_score"], out["inception_score_std"] = float(s.mean), float(s.std)
    perm = np.random.default_rng(seed).permutation(len(x))
    a, b = f[perm[: len(x) // 2]], f[perm[len(x) // 2 :]]
    out["fid"] = float(metrics.fid(a, b))
    if hasattr(metrics, "kid"):
        k = metrics.kid(a, b, subset_size=500, n_subsets=100, rng=torch.Generator().manual_seed(seed))
        out["kid_mean"], out["kid_std"] = float(k.mean), float(k.std)
    r = metrics.prdc(b, a, k=5)
    out.update({name: float(v) for name, v in r._asdict().items()})
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_PATH)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--no-reference", action="store_true", help="skip the real-digits reference figures")
    args = p.parse_args(argv)
    train(args.out, seed=args.seed, epochs=args.epochs, verbose=True)
    print(f"saved {args.out}")
    if not args.no_reference:
        if str(HERE.parent) not in sys.path:
            sys.path.insert(0, str(HERE.parent))
        ref = reference_metrics(load_features_net(args.out), seed=args.seed)
        print("real digits (IS: all 1797; the others: one random half against the other):")
        print("  " + ", ".join(f"{k} {v:.4g}" for k, v in ref.items()))


if __name__ == "__main__":
    main()
