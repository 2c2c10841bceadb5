"""Entry point of invprob-plugin-cuda: on a CUDA device, the compiled kernels replace the core's
plain-torch kernels of ``invprob.ops`` (light: torch and the extension load only on CUDA)."""

from __future__ import annotations

import sys
from typing import Any

from invprob import hookimpl

_state: dict[str, Any] = {"registered": False, "notice": None}


def enable_kernels() -> bool:
    """Register the compiled kernels for ``"cuda"`` once per process; False (and one notice on
    stderr saying what is missing) when they cannot be loaded."""
    if _state["registered"]:
        return True
    if _state["notice"] is not None:
        return False
    from invprob import ops

    from .build import KernelsUnavailable, load_extension
    from .kernels import make_kernels

    try:
        extension = load_extension()
    except KernelsUnavailable as exc:
        _state["notice"] = str(exc)
        print(f"invprob-plugin-cuda: using the plain-torch kernels: {exc}", file=sys.stderr)
        return False
    for name, kernel in make_kernels(extension).items():
        ops.register_kernel(name, "cuda", kernel)
    _state["registered"] = True
    return True


@hookimpl
def invprob_setup_runtime(device: Any) -> None:
    if getattr(device, "type", None) == "cuda":
        enable_kernels()
