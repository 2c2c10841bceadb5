"""Per-image parameters (LCM's phi_i, GLO's z_i) of a whole training set in one file.

The file is an ordinary safetensors file of stacked float32 tensors ``{name: [N, ...]}``
(``safetensors.torch.load_file`` reads it), written header-first without materialising the
tensors, then opened as a ``numpy.memmap`` over the data section: a training run gathers the
rows of one batch by index, updates them, and scatters them back, while the operating system
pages the file in and out. 10,000 images of LCM's 15 k-parameter phi are 600 MB on disk and
only the batch in memory.
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from invprob.images import atomic_path

_DTYPE = "F32"


class LatentStore:
    """Memory-mapped ``{name: [N, *shape]}`` float32 tensors in a safetensors file."""

    def __init__(self, path: str | Path, *, writable: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"per-image latents file {self.path} does not exist")
        with open(self.path, "rb") as handle:
            (header_size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(header_size))
        self.metadata: dict[str, str] = header.pop("__metadata__", {}) or {}
        base = 8 + header_size
        mode = "r+" if writable else "r"
        self.arrays: dict[str, np.memmap] = {}
        for name, info in header.items():
            if info["dtype"] != _DTYPE:
                raise ValueError(f"{self.path}: tensor {name!r} is {info['dtype']}; a latent store holds F32 only")
            start, stop = info["data_offsets"]
            shape = tuple(info["shape"])
            if stop - start != 4 * int(np.prod(shape)):
                raise ValueError(f"{self.path}: tensor {name!r} has {stop - start} bytes for shape {shape}")
            self.arrays[name] = np.memmap(self.path, dtype="<f4", mode=mode, offset=base + start, shape=shape)
        sizes = {a.shape[0] for a in self.arrays.values()}
        if len(sizes) != 1:
            raise ValueError(f"{self.path}: tensors have different leading sizes {sorted(sizes)}")
        self.size = sizes.pop()

    @staticmethod
    def create(
        path: str | Path,
        shapes: Mapping[str, tuple[int, ...]],
        count: int,
        metadata: Mapping[str, str] | None = None,
    ) -> LatentStore:
        """Write a zero-filled store of ``count`` rows of each per-image shape and open it writable
        (fill it with :meth:`fill`). The file appears whole: it is written under a temporary
        name and renamed."""
        path = Path(path)
        header: dict[str, object] = {"__metadata__": {k: str(v) for k, v in (metadata or {}).items()}}
        offset = 0
        for name, shape in shapes.items():
            full = (int(count), *(int(n) for n in shape))
            nbytes = 4 * int(np.prod(full))
            header[name] = {"dtype": _DTYPE, "shape": list(full), "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)  # safetensors aligns the data section to 8 bytes
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            handle.write(struct.pack("<Q", len(raw)))
            handle.write(raw)
            handle.truncate(8 + len(raw) + offset)  # sparse zeros
        return LatentStore(path, writable=True)

    def fill(self, name: str, rows, *, chunk: int = 4096) -> None:
        """Fill tensor ``name``: ``rows`` is one row ``[*shape]`` (every image the same) or a
        function ``rows(start, stop) -> [stop - start, *shape]`` called chunk by chunk in order."""
        target = self.arrays[name]
        if isinstance(rows, torch.Tensor):
            for start in range(0, self.size, chunk):
                target[start : start + chunk] = rows.detach().to("cpu", torch.float32).numpy()
            return
        for start in range(0, self.size, chunk):
            stop = min(self.size, start + chunk)
            target[start:stop] = rows(start, stop).detach().to("cpu", torch.float32).numpy()

    def names(self) -> list[str]:
        return list(self.arrays)

    def shape(self, name: str) -> tuple[int, ...]:
        """Per-image shape of ``name``."""
        return tuple(self.arrays[name].shape[1:])

    def gather(self, indices: torch.Tensor | np.ndarray) -> dict[str, torch.Tensor]:
        """The rows ``indices`` of every tensor, as fresh float32 tensors ``[len(indices), ...]``."""
        index = np.asarray(indices, dtype=np.int64)
        return {name: torch.from_numpy(np.array(array[index])) for name, array in self.arrays.items()}

    def scatter(self, indices: torch.Tensor | np.ndarray, values: Mapping[str, torch.Tensor]) -> None:
        """Write ``values[name]`` back into the rows ``indices`` (indices must be distinct)."""
        index = np.asarray(indices, dtype=np.int64)
        for name, value in values.items():
            self.arrays[name][index] = value.detach().to("cpu", torch.float32).numpy()

    def all(self, name: str) -> np.memmap:
        """The whole ``[N, ...]`` array of ``name`` (memory-mapped; slice it to read)."""
        return self.arrays[name]

    def flush(self) -> None:
        for array in self.arrays.values():
            if array.mode == "r+":
                array.flush()

    def copy_to(self, path: str | Path) -> Path:
        """Flush and copy the file to ``path`` (written under a temporary name, then renamed)."""
        self.flush()
        path = Path(path)
        with atomic_path(path) as tmp:
            shutil.copyfile(self.path, tmp)
        return path
