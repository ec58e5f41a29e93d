"""The Langevin update x + a s + b z of the accelerated samplers (private): fused, in place, cache-blocked.

See the module docstring of :mod:`accelerated.langevin` for the memory traffic of each form.
"""

from __future__ import annotations

import torch

# Block size of the single-threaded CPU update: 4 MiB per tensor, so a block of x, s and z (12 MiB)
# stays in the last-level cache between the two passes. Measured on 10^7 float32 values, one thread,
# against the unblocked two passes (benchmarks/bench_langevin.py and its README section): 4 MiB blocks
# 1-11% faster, 1 and 16 MiB blocks no faster, 256 KiB blocks slower (per-block Python overhead).
CHUNK_BYTES = 4 * 2**20


_FUSED_SOURCE = "template <typename T> T langevin_update(T x, T s, T z, T a, T b) { return x + a * s + b * z; }"
_fused_state: dict[str, object] = {"kernel": None, "failed": False}


def _fused_cuda(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, a: float, b: float) -> torch.Tensor | None:
    """x + a s + b z in one CUDA kernel (jiterator, compiled once per dtype); None where unavailable.

    ``torch.cuda.jiterator`` is a beta API that some builds lack: any failure to build or launch the
    kernel (other than running out of memory) turns the fused path off for the process, and the
    caller makes two passes instead.
    """
    if _fused_state["failed"] or x.dtype not in (torch.float32, torch.float64):
        return None
    try:
        if _fused_state["kernel"] is None:
            from torch.cuda import jiterator

            _fused_state["kernel"] = jiterator._create_jit_fn(_FUSED_SOURCE, a=0.0, b=0.0)
        return _fused_state["kernel"](x, s, z, a=a, b=b)
    except torch.cuda.OutOfMemoryError:
        raise
    except (RuntimeError, AssertionError, AttributeError, ImportError, NotImplementedError):
        _fused_state["failed"] = True
        return None


def _needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _blocks(x: torch.Tensor, *others: torch.Tensor) -> int | None:
    """Block length for a cache-blocked CPU update, or None where blocking does not apply or help.

    Only with one intra-op thread: with several, every block's two ``add_`` are two parallel regions
    whose barriers wait for a descheduled thread on a busy machine (measured on the 2-core development
    machine under load: 280 ms per 10^7-value update blocked against 25 ms in two passes), and the
    gain on an idle machine (about 10%) does not pay for that risk.
    """
    if x.device.type != "cpu" or torch.compiler.is_compiling() or torch.get_num_threads() != 1:
        return None  # (a compiled graph fuses the update itself)
    if not all(t.is_contiguous() for t in (x, *others)):
        return None
    block = max(1, CHUNK_BYTES // x.element_size())
    return block if x.numel() > block else None


Coefficient = float | torch.Tensor  # a Python float, or a 0-d tensor on x's device (no host read)


def _axpy2_(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, a: Coefficient, b: Coefficient) -> torch.Tensor:
    """x += a s + b z in place, two passes: ``add_`` with Python coefficients, ``addcmul_`` with 0-d tensors."""
    if isinstance(a, torch.Tensor):
        return x.addcmul_(s, a).addcmul_(z, b)
    return x.add_(s, alpha=a).add_(z, alpha=b)


def _update_(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, a: Coefficient, b: Coefficient) -> torch.Tensor:
    """x += a s + b z in place (two passes, cache-blocked on the CPU); returns x."""
    block = None if _needs_grad(x, s, z) else _blocks(x, s, z)
    if block is None:
        return _axpy2_(x, s, z, a, b)
    xf, sf, zf = x.view(-1), s.view(-1), z.view(-1)
    for start in range(0, xf.numel(), block):
        stop = start + block
        _axpy2_(xf[start:stop], sf[start:stop], zf[start:stop], a, b)
    return x


def _update(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, a: Coefficient, b: Coefficient) -> torch.Tensor:
    """x + a s + b z as a new tensor: one fused kernel on CUDA (Python coefficients), else two passes."""
    tensor_coefficients = isinstance(a, torch.Tensor)
    if _needs_grad(x, s, z) or tensor_coefficients:
        if tensor_coefficients:
            return torch.addcmul(x, s, a).addcmul_(z, b)
        return torch.add(x, s, alpha=a).add_(z, alpha=b)
    if x.is_cuda:
        fused = _fused_cuda(x, s, z, a, b)
        if fused is not None:
            return fused
    block = _blocks(x, s, z)
    if block is None:
        return torch.add(x, s, alpha=a).add_(z, alpha=b)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    xf, sf, zf, of = x.view(-1), s.view(-1), z.view(-1), out.view(-1)
    for start in range(0, xf.numel(), block):
        stop = start + block
        torch.add(xf[start:stop], sf[start:stop], alpha=a, out=of[start:stop]).add_(zf[start:stop], alpha=b)
    return out


def _advance(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, a: Coefficient, b: Coefficient) -> torch.Tensor:
    """The samplers' step on their own buffer x: in place on the CPU, fused out of place on CUDA.

    With autograd recording, out of place (an in-place update would overwrite a state that the
    backward pass of score_fn may need).
    """
    if x.is_cuda or _needs_grad(x, s, z):
        return _update(x, s, z, a, b)
    return _update_(x, s, z, a, b)
