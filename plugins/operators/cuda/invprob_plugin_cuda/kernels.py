"""The compiled kernels behind the core's op signatures (``invprob.ops``).

Each function takes exactly the arguments of its op and returns what the op's plain-torch
kernel returns; float32 inputs go to the compiled kernel, anything else (float64 for
gradcheck, half precision) to the plain-torch kernel, so registering these never narrows what
the op accepts. The device of the input is made current and torch's current stream is passed
on, so the kernels order with everything else on that stream.
"""

from __future__ import annotations

from types import ModuleType
from typing import Optional

import torch
from torch import Tensor

from invprob import ops


def _stream(device: torch.device) -> int:
    return torch.cuda.current_stream(device).cuda_stream


def make_kernels(extension: ModuleType) -> dict[str, object]:
    """``{op name: kernel}`` for :func:`invprob.ops.register_kernel`, calling ``extension``."""
    sense_reference = ops.reference_kernel(ops.CIRCULANT_SENSE)
    adjoint_reference = ops.reference_kernel(ops.CIRCULANT_SENSE_ADJOINT)
    project_reference = ops.reference_kernel(ops.PROJECT_L1_BALL)

    def circulant_sense(x: Tensor, g_fft: Tensor, signs: Tensor, rows: Optional[Tensor], m: int) -> Tensor:
        if x.dtype != torch.float32:
            return sense_reference(x, g_fft, signs, rows, m)
        with torch.cuda.device(x.device):
            return extension.circulant_sense(x.contiguous(), g_fft.float().contiguous(), signs.float().contiguous(),
                                             None if rows is None else rows.contiguous(), m, _stream(x.device))  # fmt: skip

    def circulant_sense_adjoint(y: Tensor, g_fft: Tensor, signs: Tensor, rows: Optional[Tensor]) -> Tensor:
        if y.dtype != torch.float32:
            return adjoint_reference(y, g_fft, signs, rows)
        with torch.cuda.device(y.device):
            return extension.circulant_sense_adjoint(y.contiguous(), g_fft.float().contiguous(),
                                                     signs.float().contiguous(),
                                                     None if rows is None else rows.contiguous(), _stream(y.device))  # fmt: skip

    def project_l1_ball(v: Tensor, centre: Tensor, radius: float) -> Tensor:
        if v.dtype != torch.float32 or centre.dtype != torch.float32 or v.dim() == 0 or radius < 0:
            return project_reference(v, centre, radius)  # the reference also raises the clear errors
        with torch.cuda.device(v.device):
            return extension.project_l1_ball(v.contiguous(), centre.contiguous(), float(radius), _stream(v.device))

    return {
        ops.CIRCULANT_SENSE: circulant_sense,
        ops.CIRCULANT_SENSE_ADJOINT: circulant_sense_adjoint,
        ops.PROJECT_L1_BALL: project_l1_ball,
    }
