"""Shims that let the official ILO / PULSE code run on CPU on the tiny StyleGAN2 fixture.

Used by ``ilo_parity.py`` and ``pulse_parity.py``; each shim is listed in
``tests/fixtures/parity/README.md``. Nothing here is fetched: the official code comes from
the paths given on the command line.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F

FIXTURE_CHANNELS = {4: 64, 8: 64, 16: 32, 32: 32, 64: 16}
SIZE, STYLE_DIM, N_MLP, N_LATENT = 32, 64, 3, 8


def load_source(name: str, path: Path, replacements: list[tuple[str, str]]) -> types.ModuleType:
    """Exec ``path`` as module ``name`` after literal ``replacements`` (each must occur; every occurrence is replaced)."""
    source = path.read_text()
    for old, new in replacements:
        if old not in source:
            raise SystemExit(f"shim: {old!r} not found in {path}: the official code differs from the one these shims were written for")
        source = source.replace(old, new)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def install_cpu_ops(rosinality: Path) -> None:
    """rosinality/stylegan2-pytorch's ``op`` package (its CPU paths) instead of the CUDA-only one;
    the JIT build of the CUDA extension is skipped (``load`` returns None)."""
    import torch.utils.cpp_extension as cpp

    cpp.load = lambda *args, **kwargs: None
    sys.path.insert(0, str(rosinality))
    import op  # noqa: F401  (rosinality's, with CPU fallbacks)

    sys.path.remove(str(rosinality))


def tiny_rosinality_model(model_py: Path, name: str = "model") -> types.ModuleType:
    """A rosinality-layout ``model.py`` with the fixture's reduced channel widths (the only change)."""
    source = model_py.read_text()
    pattern = re.compile(r"self\.channels = \{.*?\n        \}", re.S)
    if len(pattern.findall(source)) != 1:
        raise SystemExit(f"shim: the channels dict of {model_py}'s Generator was not found exactly once")
    source = pattern.sub(f"self.channels = {FIXTURE_CHANNELS!r}", source, count=1)
    module = types.ModuleType(name)
    module.__file__ = str(model_py)
    sys.modules[name] = module
    exec(compile(source, str(model_py), "exec"), module.__dict__)
    return module


def gaussian_fit(generator, samples: int = 100_000, seed: int = 0) -> dict[str, torch.Tensor]:
    """PULSE's fit (``PULSE.py``): mean and std of ``leaky_relu(mapping(z), 5)``."""
    torch.manual_seed(seed)
    with torch.no_grad():
        out = F.leaky_relu(generator.style(torch.randn(samples, STYLE_DIM)), 5.0)
    return {"mean": out.mean(0), "std": out.std(0)}


def downsample_matrices(downsample, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The official ``BicubicDownSample`` is separable: ``D(x) = R x C^T`` per channel; returns R, C."""
    rows, cols = [], []
    for i in range(size):
        x = torch.zeros(1, 3, size, size)
        x[:, :, i, :] = 1
        rows.append(downsample(x)[0, 0, :, 0])
        x = torch.zeros(1, 3, size, size)
        x[:, :, :, i] = 1
        cols.append(downsample(x)[0, 0, 0, :])
    r, c = torch.stack(rows, 1), torch.stack(cols, 1)
    x = torch.randn(1, 3, size, size)
    error = (downsample(x) - r @ x @ c.T).abs().max().item()
    if error > 1e-5:
        raise SystemExit(f"the downsampler is not separable as assumed (max error {error})")
    return r, c


def install_torchvision_stub() -> None:
    """torchvision is not installed here: the official code uses only ``transforms.Compose``,
    ``Resize`` (the input is already at ``image_size``: identity), ``ToTensor`` and ``Normalize``
    from it (``utils.save_image`` only with ``save_gif``). These are their definitions."""
    import numpy as np

    def compose(steps):
        def run(x):
            for step in steps:
                x = step(x)
            return x

        return run

    def resize(size):
        wanted = tuple(size) if isinstance(size, (list, tuple)) else (size, size)

        def run(image):
            if tuple(image.size) != wanted:
                raise SystemExit(f"the stub Resize only passes images already at {wanted}")
            return image

        return run

    def to_tensor():
        return lambda image: torch.from_numpy(np.array(image, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()

    def normalize(mean, std):
        return lambda x: (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]

    transforms = types.SimpleNamespace(Compose=compose, Resize=resize, ToTensor=to_tensor, Normalize=normalize)
    sys.modules["torchvision"] = types.SimpleNamespace(transforms=transforms, utils=None)
    sys.modules["torchvision.transforms"] = transforms
