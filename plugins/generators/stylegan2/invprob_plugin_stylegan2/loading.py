"""Loading StyleGAN2 weights: rosinality ``.pt``, NVlabs ``.pkl``, and our converted ``.safetensors``.

Every path ends in the same rosinality-keyed dict ``{"g_ema": {...}, "d": {...}, "latent_avg": ...}``
and a strict load (:func:`invprob.weights.load_strict`: a readable key/shape diff on mismatch).

The architecture is read from the tensor shapes, because ``channel_multiplier`` does not
determine the widths (checkpoints with reduced or custom widths exist):

- ``style_dim`` = ``style.1.weight.shape[1]``; ``n_mlp`` = the number of ``style.<i>.weight``;
- ``size`` = ``4 * 2**len(to_rgbs)``, checked against every noise map's shape;
- the width at 4×4 = ``input.input.shape[1]``; at ``4 * 2**k`` = ``convs.{2k-2}.conv.weight.shape[1]``;
- the discriminator's widths from its ``convs.*`` weights;
- the FIR kernel's length from the ``blur.kernel`` buffers (the values are loaded from the file).

``lr_mlp`` is a run-time multiplier that no shape shows: it comes from the checkpoint's
``args`` when present, else upstream's default 0.01. So do NVlabs' ``conv_clamp`` /
``d_conv_clamp`` (read from the ``.pkl``'s layers; rosinality files have none) and the
minibatch-stddev group (``stddev_group``, 4; ``None`` = the whole batch).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from invprob.weights import find_weights, load_strict, record

from .errors import StyleGAN2CheckpointError

from .generator import StyleGAN2Generator
from .networks import StyleGAN2Config, StyleGAN2Discriminator, StyleGAN2Network, is_power_of_two

FORMAT = "invprob-stylegan2"


def read_checkpoint(path: Path, *, discriminator: bool = True) -> dict[str, Any]:
    """The rosinality-keyed dict ``{"g_ema", "d"?, "latent_avg"?, "args"?}`` from any supported file.

    With ``discriminator=False`` the file's discriminator is neither read nor checked (an NVlabs
    D of an architecture we do not support does not stop the generator from loading).
    """
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        from .nvlabs import read_nvlabs_pickle

        return read_nvlabs_pickle(path, discriminator=discriminator)
    data = read_converted(path) if suffix == ".safetensors" else read_rosinality(path)
    if not discriminator:
        data.pop("d", None)
    return data


def read_rosinality(path: Path) -> dict[str, Any]:
    """A rosinality ``.pt``: ``torch.load(weights_only=True)`` (``argparse.Namespace`` args allowed as data)."""
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every reader failure becomes one line naming the file
        raise StyleGAN2CheckpointError(
            f"{path}: cannot read it as a PyTorch checkpoint (truncated, corrupt or not a torch.save file): {_reason(exc)}"
        ) from None
    if not isinstance(data, Mapping):
        raise StyleGAN2CheckpointError(f"{path}: holds a {type(data).__name__}; expected a rosinality StyleGAN2 checkpoint dict with 'g_ema'")
    if "g_ema" not in data and "style.1.weight" in data:
        data = {"g_ema": dict(data)}  # a bare generator state dict
    if "g_ema" not in data:
        found = ", ".join(list(data)[:6])
        raise StyleGAN2CheckpointError(
            f"{path}: not a rosinality StyleGAN2 checkpoint: expected a dict with 'g_ema' (and 'latent_avg', 'd'); found {found}"
        )
    result = {"g_ema": dict(data["g_ema"])}
    for key in ("d", "latent_avg"):
        if key in data and data[key] is not None:
            result[key] = dict(data[key]) if key == "d" else data[key]
    args = data.get("args")
    if isinstance(args, argparse.Namespace):
        args = vars(args)
    if isinstance(args, Mapping):
        result["args"] = dict(args)
    return result


def _reason(exc: Exception) -> str:
    """One line of a reader error; for a refused weights-only load, the refused item, never torch's
    advice to retry with ``weights_only=False`` (which would run code from the file)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if lines and lines[0].startswith("Weights only load failed"):
        refused = [line for line in lines if line.startswith("Unsupported")]
        return f"a weights-only load refused it ({refused[0] if refused else 'objects other than tensors and plain data'})"
    return lines[0] if lines else type(exc).__name__


def read_converted(path: Path) -> dict[str, Any]:
    """Our ``.safetensors`` (``invprob convert stylegan2``): ``g_ema.*``, ``d.*``, ``latent_avg``; config in the header."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise StyleGAN2CheckpointError(f"{path}: cannot read it as safetensors (truncated or corrupt): {exc}") from None
    if metadata.get("format") != FORMAT:
        raise StyleGAN2CheckpointError(
            f"{path}: not a converted StyleGAN2 file (header format {metadata.get('format')!r}, expected {FORMAT!r}); "
            "convert a checkpoint with `invprob convert stylegan2 IN OUT.safetensors`"
        )
    result: dict[str, Any] = {"g_ema": {}, "config": metadata.get("config")}
    d_state = {}
    for key, value in tensors.items():
        if key.startswith("g_ema."):
            result["g_ema"][key[len("g_ema.") :]] = value
        elif key.startswith("d."):
            d_state[key[len("d.") :]] = value
        elif key == "latent_avg":
            result["latent_avg"] = value
    if d_state:
        result["d"] = d_state
    return result


def _indexed(state: Mapping[str, torch.Tensor], pattern: str) -> dict[int, torch.Tensor]:
    regex = re.compile(pattern)
    return {int(m.group(1)): v for k, v in state.items() if (m := regex.fullmatch(k))}


def infer_config(checkpoint: Mapping[str, Any], *, path: Path | str = "checkpoint") -> StyleGAN2Config:
    """The architecture of a rosinality-keyed checkpoint, from its tensor shapes (see the module docstring)."""
    g = checkpoint["g_ema"]
    args = checkpoint.get("args") or {}
    styles = _indexed(g, r"style\.(\d+)\.weight")
    to_rgbs = _indexed(g, r"to_rgbs\.(\d+)\.conv\.weight")
    if not styles or "input.input" not in g or "to_rgb1.conv.weight" not in g:
        found = ", ".join(list(g)[:5])
        raise StyleGAN2CheckpointError(
            f"{path}: the generator is not a StyleGAN2 of rosinality's layout: expected style.1.weight, input.input, "
            f"conv1.*, to_rgb1.*, convs.*, to_rgbs.*; found {found}, ..."
        )
    style_dim = int(styles[min(styles)].shape[1])
    size = 4 * 2 ** len(to_rgbs)
    stored = args.get("size")
    if stored is not None and (not is_power_of_two(int(stored)) or int(stored) != size):
        raise StyleGAN2CheckpointError(
            f"{path}: args size {stored} does not match the {len(to_rgbs)} ToRGB layers (a power-of-two resolution {size})"
        )
    channels = {4: int(g["input.input"].shape[1])}
    for k in range(1, len(to_rgbs) + 1):
        key = f"convs.{2 * k - 2}.conv.weight"
        if key not in g:
            raise StyleGAN2CheckpointError(f"{path}: missing {key}: expected two convs per resolution up to {size}")
        channels[4 * 2**k] = int(g[key].shape[1])
    for i, tensor in _indexed(g, r"noises\.noise_(\d+)").items():
        r = 2 ** ((i + 5) // 2)
        if tuple(tensor.shape[-2:]) != (r, r):
            raise StyleGAN2CheckpointError(
                f"{path}: noises.noise_{i} is {tuple(tensor.shape)}; a {size}x{size} StyleGAN2 (power-of-two sizes) expects [1, 1, {r}, {r}]"
            )
    kernel = g.get("convs.0.conv.blur.kernel")
    taps = tuple(args.get("blur_kernel") or (1, 3, 3, 1))
    if kernel is not None and kernel.shape[0] != len(taps):
        taps = (1,) * int(kernel.shape[0])  # only the length matters: the values are loaded from the file
    d_channels = None
    if "d" in checkpoint:
        d_channels = _discriminator_channels(checkpoint["d"], size, path)
    return StyleGAN2Config(
        size=size,
        style_dim=style_dim,
        n_mlp=len(styles),
        channels=channels,
        lr_mlp=float(args.get("lr_mlp", 0.01)),
        blur_kernel=taps,
        d_channels=d_channels if d_channels != channels else None,
        stddev_group=_optional(args.get("stddev_group", 4), int),
        conv_clamp=_optional(args.get("conv_clamp"), float),
        d_conv_clamp=_optional(args.get("d_conv_clamp"), float),
    )


def _optional(value: Any, kind: type) -> Any:
    return None if value is None else kind(value)


def _discriminator_channels(d: Mapping[str, torch.Tensor], size: int, path: Path | str) -> dict[int, int]:
    if "convs.0.0.weight" not in d or "final_conv.0.weight" not in d:
        raise StyleGAN2CheckpointError(f"{path}: 'd' is not a rosinality StyleGAN2 discriminator (expected convs.0.0.weight, final_conv.0.weight)")
    blocks = _indexed(d, r"convs\.(\d+)\.conv2\.1\.weight")
    if 4 * 2 ** len(blocks) != size:
        raise StyleGAN2CheckpointError(
            f"{path}: the discriminator has {len(blocks)} residual blocks ({4 * 2 ** len(blocks)}x{4 * 2 ** len(blocks)} images) "
            f"but the generator makes {size}x{size} images"
        )
    channels = {size: int(d["convs.0.0.weight"].shape[0])}
    for i in range(1, len(blocks) + 1):
        channels[size // 2**i] = int(blocks[i].shape[0])
    return channels


def build_from_checkpoint(
    checkpoint: Mapping[str, Any], *, path: Path | str = "checkpoint", discriminator: bool = True, **options: Any
) -> StyleGAN2Generator:
    """A :class:`StyleGAN2Generator` from a rosinality-keyed dict, loaded strictly."""
    config = StyleGAN2Config.from_json(checkpoint["config"]) if checkpoint.get("config") else infer_config(checkpoint, path=path)
    network = StyleGAN2Network(config)
    load_strict(network, checkpoint["g_ema"], what=f"StyleGAN2 generator of {path} ({config.size}x{config.size})")
    disc = None
    if discriminator and "d" in checkpoint:
        disc = StyleGAN2Discriminator(config)
        load_strict(disc, checkpoint["d"], what=f"StyleGAN2 discriminator of {path}")
    latent_avg = checkpoint.get("latent_avg")
    if latent_avg is not None and latent_avg.numel() != config.style_dim:
        raise StyleGAN2CheckpointError(f"{path}: latent_avg has {latent_avg.numel()} entries, expected style_dim = {config.style_dim}")
    source = Path(path) if isinstance(path, (str, Path)) and Path(path).is_file() else None
    return StyleGAN2Generator(network, disc, latent_avg, source=source, **options)


def load_stylegan2(
    checkpoint: str | Path, *, search: tuple[Path, ...] = (), discriminator: bool = True, **options: Any
) -> StyleGAN2Generator:
    """A StyleGAN2 from a rosinality ``.pt``, an NVlabs ``.pkl`` or a converted ``.safetensors``.

    ``options`` go to :class:`StyleGAN2Generator` (``latent``, ``noise_latents``,
    ``truncation``, ``output``). The file's sha256 goes into the run's weight ledger.
    """
    path = find_weights(checkpoint, search, what="StyleGAN2 checkpoint")
    data = read_checkpoint(path, discriminator=discriminator)
    record(path)
    return build_from_checkpoint(data, path=path, discriminator=discriminator, **options)

