"""Loading a recipe's observations given directly (``data.observation``); the images to
solve for (``data.images``) are read by :mod:`invprob.images`, which plugins use too.

``data.observation`` is what was measured, without a ground truth: image files (a file, a
folder or a glob) that must already have the operator's output size -- never resized, since
resizing would change the measurement -- or measurement tensors in ``.npy``, ``.pt`` or
``.safetensors`` files, ``[N, *output shape]`` or one ``[*output shape]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from invprob.hints import with_article
from invprob.images import DataError, apply_select, list_images, numpy_load_error

TENSOR_SUFFIXES = {".npy", ".pt", ".pth", ".safetensors"}


def load_observations(
    spec: Path, output_shape: tuple[int, ...], *, select: str | None = None
) -> tuple[torch.Tensor, list[str]]:
    """The observations ``spec`` names, ``[N, *output_shape]``, and their names.

    ``output_shape`` is what the operator outputs for one image (``(C, H, W)`` for image-like
    measurements, ``(m,)`` for compressed sensing). Images must have exactly that size and
    channel count (an RGB file whose channels are equal counts as grey): a mismatch is an
    error naming both shapes, never a silent resize.
    """
    if spec.suffix.lower() in TENSOR_SUFFIXES:
        tensors, names = _read_measurements(spec, output_shape)
        kept = apply_select(list(range(len(names))), select)
        return tensors[kept], [names[i] for i in kept]
    if len(output_shape) != 3:
        raise DataError(
            f"data.observation: {spec} holds images but the operator's measurements have shape "
            f"{list(output_shape)}, not an image; give the measurements as .npy, .pt or .safetensors"
        )
    found = apply_select(list_images(spec, field="data.observation"), select)
    if not found:
        raise DataError(f"data.select {select!r} keeps no observation in {spec}")
    return torch.stack([_observed_image(name, read().pixels, output_shape) for name, read in found]), [n for n, _ in found]


def _observed_image(name: str, array: np.ndarray, output_shape: tuple[int, ...]) -> torch.Tensor:
    """An observed image ``[H, W(, 3)]`` in [0, 1] as ``[C, H, W]`` in [-1, 1], of exactly ``output_shape``."""
    channels, height, width = output_shape
    if array.ndim == 3 and channels == 1 and (array == array[..., :1]).all():
        array = array[..., 0]
    found = (1 if array.ndim == 2 else array.shape[2], array.shape[0], array.shape[1])
    if found != tuple(output_shape):
        raise DataError(
            f"data.observation: the image {name!r} has shape {list(found)} (C, H, W) but the operator "
            f"outputs {list(output_shape)}; give observations of exactly the operator's output size "
            "(check the generator's size and the operator's factor)"
        )
    values = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    values = values[None] if values.dim() == 2 else values.movedim(-1, 0)
    return values * 2 - 1


def _read_measurements(spec: Path, output_shape: tuple[int, ...]) -> tuple[torch.Tensor, list[str]]:
    if not spec.is_file():
        raise DataError(f"data.observation: {spec} does not exist")
    suffix = spec.suffix.lower()
    try:
        if suffix == ".npy":
            with open(spec, "rb") as file:
                if file.read(6) != b"\x93NUMPY":
                    raise DataError(f"data.observation: {spec} is not a valid .npy array (it lacks the .npy header); "
                                    "save the measurements with numpy.save")  # fmt: skip
            values = torch.from_numpy(np.load(spec, allow_pickle=False))
        elif suffix == ".safetensors":
            from safetensors.torch import load_file

            values = _single_tensor(load_file(str(spec)), spec)
        else:
            from invprob.weights import torch_load

            loaded = torch_load(spec, "data.observation: measurement")
            values = loaded if isinstance(loaded, torch.Tensor) else _single_tensor(loaded, spec)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - numpy, safetensors and torch each raise their own
        detail = numpy_load_error(exc) if suffix == ".npy" else str(exc)
        raise DataError(f"data.observation: {spec} is not a readable tensor file: {detail}") from None
    values = values.to(torch.get_default_dtype())
    shape = tuple(output_shape)
    if tuple(values.shape) == shape:
        values = values.unsqueeze(0)
    if tuple(values.shape[1:]) != shape:
        raise DataError(
            f"data.observation: {spec} holds a tensor of shape {list(values.shape)} but the operator "
            f"outputs {list(shape)} per image; give [N, {', '.join(map(str, shape))}] or one "
            f"[{', '.join(map(str, shape))}]"
        )
    if len(values) == 1:
        return values, [spec.stem]
    return values, [f"{spec.stem}{index:04d}" for index in range(len(values))]


def _single_tensor(tensors: object, spec: Path) -> torch.Tensor:
    """The tensor of a file holding one (or one named ``observation``)."""
    if isinstance(tensors, dict):
        if "observation" in tensors:
            return tensors["observation"]
        if len(tensors) == 1:
            return next(iter(tensors.values()))
        keys = ", ".join(map(str, tensors))
        raise DataError(f"data.observation: {spec} holds several tensors ({keys}); name the one to use 'observation'")
    raise DataError(f"data.observation: {spec} holds {with_article(type(tensors).__name__)}, not a tensor")
