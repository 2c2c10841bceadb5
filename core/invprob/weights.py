"""Loading weight files: clear errors when missing, sha256 of every file loaded for the run record.

safetensors is the native format. PyTorch ``.pt``/``.pth``/``.ckpt`` state dicts are read
with ``torch.load(weights_only=True)``, which never runs code embedded in the pickle.

The record of loaded files belongs to a run, not to the process: ``with recording() as
ledger:`` around a run's build and solve collects exactly the files that run loaded, even
when several runs share a process (a study) or a thread pool (the ledger lives in a
``contextvars.ContextVar``). Outside ``recording()`` nothing is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import re
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from invprob.hints import with_article


class WeightsNotFoundError(FileNotFoundError):
    """A weight file is missing; the message names it and every place looked in."""


class WeightsMismatchError(ValueError):
    """A state dict does not match the model; the message is a readable key/shape diff."""


class WeightsFileError(ValueError):
    """A weight file cannot be read (damaged, truncated, not a weight file); exit code 2."""


class UnsafeCheckpointError(WeightsFileError):
    """A PyTorch pickle references code (a function such as ``posix.system``), which a file of
    weights never needs; it is refused unread."""


@dataclass(frozen=True)
class WeightRecord:
    """A weight file a run loaded: its absolute path, sha256 and size."""

    path: str
    sha256: str
    bytes: int


class WeightLedger:
    """The weight files one run loaded, each once, in the order they were first loaded."""

    def __init__(self) -> None:
        self._records: dict[str, WeightRecord] = {}

    def add(self, path: Path) -> WeightRecord:
        key = str(Path(path).resolve())
        if key not in self._records:
            self._records[key] = WeightRecord(key, sha256_of(Path(key)), Path(key).stat().st_size)
        return self._records[key]

    @property
    def records(self) -> list[WeightRecord]:
        return list(self._records.values())


_LEDGER: ContextVar[WeightLedger | None] = ContextVar("invprob_weight_ledger", default=None)


@contextlib.contextmanager
def recording() -> Iterator[WeightLedger]:
    """Collect the weight files loaded inside the ``with`` block (one run) in a new ledger."""
    ledger = WeightLedger()
    token = _LEDGER.set(ledger)
    try:
        yield ledger
    finally:
        _LEDGER.reset(token)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_weights(name: str | Path, search: Iterable[Path] = (), *, what: str = "weights") -> Path:
    """The first existing file among ``name`` and ``search_dir / name``.

    Raises :class:`WeightsNotFoundError` listing every location tried.
    """
    name = Path(name).expanduser()
    candidates = [name] if name.is_absolute() else [name, *(Path(d) / name for d in search)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    tried = "\n".join(f"  - {c.resolve() if not c.is_absolute() else c}" for c in candidates)
    raise WeightsNotFoundError(f"{what} file {str(name)!r} not found; looked in:\n{tried}")


def load_state_dict(path: str | Path, *, what: str = "weights") -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a PyTorch pickle, and record its sha256."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"{what} file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
            raise WeightsFileError(f"{what} file {path} is not a readable safetensors file: {_first_line(exc)}") from None
    else:
        state = torch_load(path, what)
        if not isinstance(state, Mapping):
            raise WeightsMismatchError(f"{what} file {path} holds {with_article(type(state).__name__)}, not a state dict")
        state = dict(state)
    record(path)
    return state


def torch_load(path: Path, what: str) -> object:
    """``torch.load(weights_only=True)`` with one-line errors; a pickle that references code is
    an :class:`UnsafeCheckpointError` (never a suggestion to load it with ``weights_only=False``)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found is None:  # not a pickle torch can read: damaged or not a checkpoint
            reason = re.search(r"WeightsUnpickler error:\s*(.+)", str(exc))
            detail = reason.group(1).strip() if reason else "not a pickle of tensors"
            raise WeightsFileError(f"{what} file {path} is not a readable PyTorch state dict: {detail}") from None
        raise UnsafeCheckpointError(
            f"{what} file {path} references code ({found.group(1)}), which a file of weights never needs; "
            "it was not loaded. If you trust where it came from, convert it to .safetensors there "
            "(safetensors holds tensors only) and use that file"
        ) from None
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, EOFError, zipfile errors...
        raise WeightsFileError(f"{what} file {path} is not a readable PyTorch state dict: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def record(path: Path) -> WeightRecord | None:
    """Add ``path`` to the current run's ledger (see :func:`recording`); None outside a run."""
    ledger = _LEDGER.get()
    return ledger.add(path) if ledger is not None else None


def loaded_weights() -> list[WeightRecord]:
    """The weight files loaded so far in the current :func:`recording` block (empty outside)."""
    ledger = _LEDGER.get()
    return ledger.records if ledger is not None else []


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], *, what: str = "model") -> None:
    """``module.load_state_dict(state, strict=True)`` with a readable diff on mismatch."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(
        k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape)
    )
    if missing or unexpected or wrong_shape:
        lines = [f"the weights do not match the {what}:"]
        lines += [f"  missing in file:     {k} {tuple(expected[k].shape)}" for k in missing]
        lines += [f"  unexpected in file:  {k} {tuple(state[k].shape)}" for k in unexpected]
        lines += [
            f"  shape mismatch:      {k} file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
            for k in wrong_shape
        ]
        raise WeightsMismatchError("\n".join(lines))
    module.load_state_dict(dict(state), strict=True)


def save_safetensors(state: Mapping[str, torch.Tensor], path: str | Path, metadata: Mapping[str, str] | None = None) -> None:
    """Write a state dict as safetensors (contiguous CPU copies).

    The bytes are written by Python under a temporary name and renamed into place
    (:func:`invprob.images.atomic_path`): the file gets the same mode as every other file the
    process writes (the umask's), and a file present is a whole file.
    """
    from safetensors.torch import save

    from invprob.images import atomic_path

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    data = save(tensors, metadata=dict(metadata or {}))
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(data)
