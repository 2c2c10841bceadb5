"""NVlabs stylegan2-ada-pytorch ``.pkl`` snapshots, read without running the code they embed.

A snapshot is a plain ``pickle.dump`` of ``{"G", "D", "G_ema", "augment_pipe",
"training_set_kwargs", ...}``. Every network object was pickled by
``torch_utils.persistence``: ``_reconstruct_persistent_obj(meta)`` with ``meta = {type,
version, module_src, class_name, state}``, where ``module_src`` is the *source code* of
``training/networks.py``, which NVlabs' loader ``exec``-utes, and ``state`` the module's
``__dict__`` (``_parameters``, ``_buffers``, ``_modules``, plain attributes). Tensors are
``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` over storages saved by
``torch.storage._load_from_bytes`` (a nested ``torch.save``).

:class:`RestrictedUnpickler` resolves only the globals listed in :data:`ALLOWED`: the
persistence constructor becomes an inert :class:`PersistentObject` (class name, state; the
source is kept as text and never executed), storages are read with
``torch.load(weights_only=True)``, ``dnnlib.util.EasyDict`` is a plain dict, and the numpy
scalars/dtypes NVlabs stores as attributes are rebuilt by numpy. Any other global
(``os.system``, ``builtins.eval``, an unknown class) stops the load with
:class:`UnsafePickleError` before anything is called.

Key mapping, stylegan2-ada-pytorch (``G_ema``/``D``) to rosinality (``g_ema``/``d``), for a
``size = 2**n`` model; block ``k`` of the synthesis is resolution ``r = 4 * 2**k``:

============================================  ==================================================
stylegan2-ada-pytorch                          rosinality
============================================  ==================================================
``mapping.fc{i}.weight`` / ``.bias``           ``style.{i+1}.weight`` / ``.bias`` (same lr_mul scaling)
``mapping.w_avg`` ``[D]``                      ``latent_avg`` ``[1, D]``
``synthesis.b4.const`` ``[C, 4, 4]``           ``input.input`` ``[1, C, 4, 4]``
``synthesis.b4.conv1.*``                       ``conv1.*``
``synthesis.b4.torgb.*``                       ``to_rgb1.*``
``synthesis.b{r}.conv0.*`` (k >= 1)            ``convs.{2k-2}.*`` (upsampling)
``synthesis.b{r}.conv1.*`` (k >= 1)            ``convs.{2k-1}.*``
``synthesis.b{r}.torgb.*`` (k >= 1)            ``to_rgbs.{k-1}.*``
layer ``.weight`` ``[O, I, k, k]``             ``.conv.weight`` ``[1, O, I, k, k]`` (no flip)
layer ``.affine.weight`` / ``.affine.bias``    ``.conv.modulation.weight`` / ``.bias`` (bias already +1)
layer ``.noise_strength`` ``[]``               ``.noise.weight`` ``[1]``
layer ``.bias`` (conv)                         ``.activate.bias``
torgb ``.bias`` ``[3]``                        ``.bias`` ``[1, 3, 1, 1]``
layer ``.noise_const`` ``[r, r]``              ``noises.noise_{i}`` ``[1, 1, r, r]`` (conv1 of b4: 0; conv0/conv1 of b{r}: 2k-1, 2k)
``resample_filter`` (sum 1)                    ``conv.blur.kernel`` / ``upsample.kernel`` = filter × 4
``b{size}.fromrgb.weight`` / ``.bias``         ``convs.0.0.weight`` / ``convs.0.1.bias``
``b{r}.conv0`` / ``conv1`` / ``skip``          ``convs.{j}.conv1.{0,1}`` / ``conv2.{1,2}`` / ``skip.1`` (j = 1 for b{size}, then +1 per halving)
``b{r}.resample_filter`` (sum 1)               ``convs.{j}.conv2.0.kernel`` and ``convs.{j}.skip.0.kernel``
``b4.conv`` / ``b4.fc`` / ``b4.out``           ``final_conv.{0,1}`` / ``final_linear.0`` / ``final_linear.1``
============================================  ==================================================

The two formulations compute the same functions (ada's ``conv2d_resample`` pads and filters
as rosinality's Blur; ada's resnet D scales both branches by sqrt(0.5)). What no shape shows
is read from the objects' attributes:

- the mapping's learning-rate multiplier from each ``mapping.fc{i}``'s ``bias_gain``
  (= ``lr_multiplier``), checked against ``weight_gain`` (= ``lr_multiplier / sqrt(in)``);
  NVlabs stores no ``lr_multiplier`` attribute;
- ``conv_clamp`` (256 in every stylegan2-ada-pytorch training, ``None`` with ``--fp32``) from
  every ``SynthesisLayer`` / ``ToRGBLayer`` of G and every clamped ``Conv2dLayer`` of D
  (``fromrgb``, ``conv0``, ``conv1``, ``b4.conv``): it becomes ``conv_clamp`` / ``d_conv_clamp``;
- D's minibatch-stddev group from ``b4.mbstd.group_size`` (configs differ: 4, 8, 32; ``None``
  is the whole batch).

The generator must be of architecture ``skip`` and D of ``resnet`` (the StyleGAN2 of every
stylegan2-ada-pytorch config but cifar, whose D is ``orig``); others are refused with a
message naming the architecture. ``read_nvlabs_pickle(path, discriminator=False)`` reads no D
at all. Conditional models (``c_dim > 0``) are refused. Where the result still differs from
NVlabs' own forward pass, see the plugin README ("NVlabs snapshots: parity and remaining deviations").
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .errors import StyleGAN2CheckpointError


class UnsafePickleError(StyleGAN2CheckpointError):
    """A pickle references something other than the inert classes an NVlabs snapshot uses."""


class PersistentObject:
    """An inert stand-in for an object of ``torch_utils.persistence``: its class name and ``__dict__``."""

    def __init__(self, meta: Mapping[str, Any]):
        self.class_name = str(meta.get("class_name"))
        self.version = meta.get("version")
        self.module_src = meta.get("module_src")  # text only: never executed
        self.state = dict(meta.get("state") or {})

    def __repr__(self) -> str:
        return f"<PersistentObject {self.class_name}>"


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access; data only)."""


def _reconstruct_persistent_obj(meta: Mapping[str, Any]) -> PersistentObject:
    return PersistentObject(meta)


def _load_from_bytes(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _rebuild_parameter(data: torch.Tensor, requires_grad: bool, backward_hooks: Any, *state: Any) -> torch.Tensor:
    return data


def _rebuild_from_type_v2(func: Any, new_type: Any, args: tuple, state: Any) -> torch.Tensor:
    return func(*args)


def _numpy_globals() -> dict[tuple[str, str], Any]:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with torch in practice
        return {}
    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    found = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        found[(module, "scalar")] = multiarray.scalar
        found[(module, "_reconstruct")] = multiarray._reconstruct
    found[("numpy", "dtype")] = np.dtype
    found[("numpy", "ndarray")] = np.ndarray
    return found


ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): torch.Tensor,
    ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    **_numpy_globals(),
}
"""``(module, name)`` -> what it resolves to. Nothing else in a pickle resolves."""


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only :data:`ALLOWED` globals; anything else raises :class:`UnsafePickleError`."""

    def __init__(self, file: Any, *, path: Path | str = "pickle"):
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        raise UnsafePickleError(
            f"{self.path}: refused to unpickle {module}.{name}: an NVlabs StyleGAN2 .pkl holds only "
            "torch_utils.persistence networks, tensors and plain data; nothing in the file was run"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self.path}: unexpected persistent id {str(pid)[:60]!r}: not an NVlabs network pickle")


def restricted_load(path: Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler` (one-line errors for truncated files)."""
    try:
        with open(path, "rb") as handle:
            return RestrictedUnpickler(handle, path=path).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # noqa: BLE001 - EOFError, UnpicklingError, ...: one line naming the file
        raise StyleGAN2CheckpointError(
            f"{path}: cannot read it as an NVlabs .pkl (truncated or corrupt): {type(exc).__name__}: {exc}"
        ) from None


def flatten_state(obj: PersistentObject, prefix: str = "") -> dict[str, torch.Tensor]:
    """The ``state_dict``-style ``{dotted name: tensor}`` of a persistent network object."""
    out: dict[str, torch.Tensor] = {}
    state = obj.state
    for group in ("_parameters", "_buffers"):
        for name, value in (state.get(group) or {}).items():
            if isinstance(value, torch.Tensor):
                out[prefix + name] = value.detach()
    for name, child in (state.get("_modules") or {}).items():
        if isinstance(child, PersistentObject):
            out.update(flatten_state(child, f"{prefix}{name}."))
    return out


def _find(obj: PersistentObject, dotted: str) -> PersistentObject | None:
    for part in dotted.split("."):
        modules = obj.state.get("_modules") or {}
        obj = modules.get(part)
        if not isinstance(obj, PersistentObject):
            return None
    return obj


def read_nvlabs_pickle(path: Path, *, discriminator: bool = True) -> dict[str, Any]:
    """The rosinality-keyed checkpoint ``{"g_ema", "d"?, "latent_avg", "args"}`` of an NVlabs ``.pkl``.

    With ``discriminator=False``, ``D`` is not read (whatever its architecture).
    """
    data = restricted_load(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("G_ema"), PersistentObject):
        keys = sorted(data) if isinstance(data, Mapping) else type(data).__name__
        raise StyleGAN2CheckpointError(f"{path}: not a stylegan2-ada-pytorch snapshot: expected a dict with 'G_ema', found {keys}")
    g = data["G_ema"]
    attrs = g.state
    resolution, channels = attrs.get("img_resolution"), attrs.get("img_channels", 3)
    if g.class_name != "Generator" or resolution is None:
        raise StyleGAN2CheckpointError(f"{path}: G_ema is a {g.class_name}, expected stylegan2-ada-pytorch's Generator")
    resolution = int(resolution)
    if resolution < 4 or resolution & (resolution - 1):
        raise StyleGAN2CheckpointError(f"{path}: img_resolution {resolution} is not a power of two; StyleGAN2 needs 4, 8, ..., 1024")
    if int(channels) != 3:
        raise StyleGAN2CheckpointError(f"{path}: img_channels {channels}; only RGB (3) StyleGAN2 models are supported")
    if int(attrs.get("c_dim", 0) or 0) > 0:
        raise StyleGAN2CheckpointError(f"{path}: a conditional model (c_dim = {attrs['c_dim']}); only unconditional StyleGAN2 is supported")
    blocks = [f"synthesis.b{r}" for r in (4 * 2**k for k in range(int(math.log2(resolution)) - 1))]
    _require_architecture(g, blocks, "skip", path, "G_ema's synthesis")
    flat = flatten_state(g)
    g_state, used = _map_generator(flat, resolution, path)
    _refuse_leftovers(flat, used, path, "G_ema")
    layers = [f"{b}.{name}" for b in blocks for name in ("conv0", "conv1", "torgb") if b != "synthesis.b4" or name != "conv0"]
    result: dict[str, Any] = {
        "g_ema": g_state,
        "latent_avg": flat["mapping.w_avg"].reshape(1, -1),
        "args": {
            "size": resolution,
            "lr_mlp": _mapping_lr_multiplier(g, path),
            "conv_clamp": _conv_clamp(g, layers, path, "G_ema"),
        },
    }
    if discriminator and isinstance(data.get("D"), PersistentObject):
        result["args"].update(_discriminator_args(data["D"], resolution, path))
        d_flat = flatten_state(data["D"])
        d_state, d_used = _map_discriminator(d_flat, resolution, path)
        _refuse_leftovers(d_flat, d_used, path, "D")
        result["d"] = d_state
    return result


def _attribute(obj: PersistentObject, dotted: str, name: str, path: Path, what: str) -> Any:
    """Attribute ``name`` of the submodule ``dotted`` of ``obj`` (a one-line error naming it when absent)."""
    module = _find(obj, dotted) if dotted else obj
    if module is None or name not in module.state:
        raise StyleGAN2CheckpointError(f"{path}: {what} has no {dotted}.{name}: not a stylegan2-ada-pytorch network")
    return module.state[name]


def _require_architecture(obj: PersistentObject, blocks: list[str], expected: str, path: Path, what: str, hint: str = "") -> None:
    for block in blocks:
        found = _attribute(obj, block, "architecture", path, what)
        if found != expected:
            raise StyleGAN2CheckpointError(
                f"{path}: {what} has architecture {found!r} ({block}); only {expected!r} is supported "
                f"(the StyleGAN2 of stylegan2-ada-pytorch's configs){hint}"
            )


def _mapping_lr_multiplier(g: PersistentObject, path: Path) -> float:
    """The mapping's learning-rate multiplier, from what ``FullyConnectedLayer`` stores:
    ``bias_gain = lr_multiplier`` and ``weight_gain = lr_multiplier / sqrt(in_features)``
    (NVlabs stores no ``lr_multiplier``); every layer must agree."""
    values = set()
    count = int(_attribute(g, "mapping", "num_layers", path, "G_ema"))
    for i in range(count):
        fc = f"mapping.fc{i}"
        bias_gain = float(_attribute(g, fc, "bias_gain", path, "G_ema"))
        weight = (_find(g, fc).state.get("_parameters") or {}).get("weight")
        weight_gain = float(_attribute(g, fc, "weight_gain", path, "G_ema"))
        if not isinstance(weight, torch.Tensor) or not math.isclose(weight_gain * math.sqrt(weight.shape[1]), bias_gain, rel_tol=1e-6):
            raise StyleGAN2CheckpointError(
                f"{path}: G_ema's {fc} has weight_gain {weight_gain} and bias_gain {bias_gain}, which disagree "
                "(expected weight_gain = bias_gain / sqrt(in_features)): not a stylegan2-ada-pytorch mapping layer"
            )
        values.add(bias_gain)
    if len(values) != 1:
        raise StyleGAN2CheckpointError(f"{path}: G_ema's mapping layers have different learning-rate multipliers {sorted(values)}; one is supported")
    return values.pop()


def _conv_clamp(obj: PersistentObject, layers: list[str], path: Path, what: str) -> float | None:
    """The ``conv_clamp`` every listed layer stores (``None``: no clamp); they must agree."""
    values = {_attribute(obj, layer, "conv_clamp", path, what) for layer in layers}
    if len(values) != 1:
        raise StyleGAN2CheckpointError(f"{path}: {what}'s layers have different conv_clamp values {sorted(map(str, values))}; one is supported")
    value = values.pop()
    return None if value is None else float(value)


def _discriminator_args(d: PersistentObject, size: int, path: Path) -> dict[str, Any]:
    """D's ``stddev_group`` and ``d_conv_clamp``; refuses a D that is not the resnet one."""
    blocks = [f"b{r}" for r in (size // 2**k for k in range(int(math.log2(size)) - 1))]  # b{size} ... b4 (the epilogue)
    _require_architecture(d, blocks, "resnet", path, "D",
                          "; load the generator alone with `discriminator: false` (invprob convert stylegan2 --no-discriminator)")
    args: dict[str, Any] = {}
    mbstd = _find(d, "b4.mbstd")
    if mbstd is not None:
        if int(mbstd.state.get("num_channels", 1) or 1) != 1:
            raise StyleGAN2CheckpointError(f"{path}: D's minibatch stddev has {mbstd.state['num_channels']} channels; rosinality's has 1")
        group = _attribute(d, "b4.mbstd", "group_size", path, "D")
        args["stddev_group"] = None if group is None else int(group)  # None: the whole batch
    layers = [f"b{size}.fromrgb", *(f"{b}.{name}" for b in blocks[:-1] for name in ("conv0", "conv1")), "b4.conv"]
    args["d_conv_clamp"] = _conv_clamp(d, layers, path, "D")
    return args


def _refuse_leftovers(flat: Mapping[str, torch.Tensor], used: set[str], path: Path, what: str) -> None:
    left = sorted(k for k in set(flat) - used if not k.endswith("resample_filter"))  # FIR buffers: rebuilt/known
    if left:
        shown = ", ".join(left[:5]) + (", ..." if len(left) > 5 else "")
        raise StyleGAN2CheckpointError(
            f"{path}: {what} has tensors a StyleGAN2 (stylegan2-ada-pytorch, skip generator / resnet discriminator) "
            f"does not: {shown}"
        )


def _take(flat: Mapping[str, torch.Tensor], key: str, used: set[str], path: Path) -> torch.Tensor:
    if key not in flat:
        raise StyleGAN2CheckpointError(f"{path}: missing {key}: not a stylegan2-ada-pytorch StyleGAN2 network")
    used.add(key)
    return flat[key]


def _map_generator(flat: Mapping[str, torch.Tensor], size: int, path: Path) -> tuple[dict[str, torch.Tensor], set[str]]:
    used: set[str] = set()
    take = lambda key: _take(flat, key, used, path)  # noqa: E731
    out: dict[str, torch.Tensor] = {}
    fcs = sorted(int(m.group(1)) for k in flat if (m := re.fullmatch(r"mapping\.fc(\d+)\.weight", k)))
    for i in fcs:
        out[f"style.{i + 1}.weight"] = take(f"mapping.fc{i}.weight")
        out[f"style.{i + 1}.bias"] = take(f"mapping.fc{i}.bias")
    take("mapping.w_avg")
    out["input.input"] = take("synthesis.b4.const")[None]
    noise_index = 0

    def layer(source: str, target: str, *, upsample: bool) -> None:
        nonlocal noise_index
        out[f"{target}.conv.weight"] = take(f"{source}.weight")[None]
        if upsample:
            out[f"{target}.conv.blur.kernel"] = take(f"{source}.resample_filter") * 4
        elif f"{source}.resample_filter" in flat:
            used.add(f"{source}.resample_filter")
        out[f"{target}.conv.modulation.weight"] = take(f"{source}.affine.weight")
        out[f"{target}.conv.modulation.bias"] = take(f"{source}.affine.bias")
        out[f"{target}.noise.weight"] = take(f"{source}.noise_strength").reshape(1)
        out[f"{target}.activate.bias"] = take(f"{source}.bias")
        out[f"noises.noise_{noise_index}"] = take(f"{source}.noise_const")[None, None]
        noise_index += 1

    def torgb(source: str, target: str, resample: torch.Tensor | None) -> None:
        out[f"{target}.bias"] = take(f"{source}.bias").reshape(1, -1, 1, 1)
        if resample is not None:
            out[f"{target}.upsample.kernel"] = resample * 4
        out[f"{target}.conv.weight"] = take(f"{source}.weight")[None]
        out[f"{target}.conv.modulation.weight"] = take(f"{source}.affine.weight")
        out[f"{target}.conv.modulation.bias"] = take(f"{source}.affine.bias")

    layer("synthesis.b4.conv1", "conv1", upsample=False)
    torgb("synthesis.b4.torgb", "to_rgb1", None)
    if "synthesis.b4.resample_filter" in flat:
        used.add("synthesis.b4.resample_filter")
    resolution, k = 8, 1
    while resolution <= size:
        block = f"synthesis.b{resolution}"
        resample = take(f"{block}.resample_filter")
        layer(f"{block}.conv0", f"convs.{2 * k - 2}", upsample=True)
        layer(f"{block}.conv1", f"convs.{2 * k - 1}", upsample=False)
        torgb(f"{block}.torgb", f"to_rgbs.{k - 1}", resample)
        resolution, k = resolution * 2, k + 1
    return out, used


def _map_discriminator(flat: Mapping[str, torch.Tensor], size: int, path: Path) -> tuple[dict[str, torch.Tensor], set[str]]:
    used: set[str] = set()
    take = lambda key: _take(flat, key, used, path)  # noqa: E731
    out = {
        "convs.0.0.weight": take(f"b{size}.fromrgb.weight"),
        "convs.0.1.bias": take(f"b{size}.fromrgb.bias"),
    }
    resolution, j = size, 1
    while resolution > 4:
        block = f"b{resolution}"
        kernel = take(f"{block}.resample_filter")
        out[f"convs.{j}.conv1.0.weight"] = take(f"{block}.conv0.weight")
        out[f"convs.{j}.conv1.1.bias"] = take(f"{block}.conv0.bias")
        out[f"convs.{j}.conv2.0.kernel"] = kernel.clone()
        out[f"convs.{j}.conv2.1.weight"] = take(f"{block}.conv1.weight")
        out[f"convs.{j}.conv2.2.bias"] = take(f"{block}.conv1.bias")
        out[f"convs.{j}.skip.0.kernel"] = kernel.clone()
        out[f"convs.{j}.skip.1.weight"] = take(f"{block}.skip.weight")
        for extra in ("conv0.resample_filter", "conv1.resample_filter", "skip.resample_filter"):
            if f"{block}.{extra}" in flat:
                used.add(f"{block}.{extra}")
        resolution, j = resolution // 2, j + 1
    out["final_conv.0.weight"] = take("b4.conv.weight")
    out["final_conv.1.bias"] = take("b4.conv.bias")
    for name, target in (("fc", "final_linear.0"), ("out", "final_linear.1")):
        out[f"{target}.weight"] = take(f"b4.{name}.weight")
        out[f"{target}.bias"] = take(f"b4.{name}.bias")
    if "b4.conv.resample_filter" in flat:
        used.add("b4.conv.resample_filter")
    if out["final_linear.1.weight"].shape[0] != 1:
        raise StyleGAN2CheckpointError(f"{path}: D is conditional (projection output {out['final_linear.1.weight'].shape[0]}); only unconditional models are supported")
    return out, used
