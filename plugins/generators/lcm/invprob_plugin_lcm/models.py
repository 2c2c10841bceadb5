"""Saving and loading trained hourglass models (LCM and GLO), and the committed face models.

A model is one safetensors file of the generator's state dict (eval-mode batch norm running
statistics included) whose metadata records ``format: invprob-lcm``, ``kind: lcm | glo``, the
:class:`HourglassConfig` and, for LCM, the latent ConvNet's config (JSON under ``manifold``,
which rebuilds the same ``s``) and its box bound. Next to it, ``<stem>.sampler.safetensors``
holds the fitted appendix-I sampler (optional: without it z is drawn from N(0, 1)).

The committed models live in this package's ``models/`` folder: ``lcm-faces64`` and
``glo-faces64`` (see their model cards).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from invprob.weights import WeightsMismatchError, WeightsNotFoundError, load_state_dict, load_strict, save_safetensors

from .hourglass import HourglassConfig, HourglassGenerator
from .sampling import GaussianMixtureSampler

MODELS_DIR = Path(__file__).resolve().parent / "models"
COMMITTED = ("lcm-faces64", "glo-faces64")
FORMAT = "invprob-lcm"

Kind = Literal["lcm", "glo"]


@dataclass
class ModelInfo:
    """What a model file says about itself besides the weights."""

    kind: Kind
    config: HourglassConfig
    manifold: dict | None  # ManifoldNet(**manifold) for LCM
    bound: float | None
    metadata: dict[str, str]


def committed_model_path(name: str) -> Path:
    """The weights file of a committed model, or a clear error naming where it looked."""
    if name not in COMMITTED:
        raise ValueError(f"unknown LCM model {name!r}; the committed ones are {', '.join(COMMITTED)}")
    path = MODELS_DIR / f"{name}.safetensors"
    if not path.is_file():
        raise WeightsNotFoundError(
            f"the weights of the committed model {name!r} are missing: looked for {path}; reinstall "
            "invprob-plugin-lcm from a full checkout, or pass checkpoint: <a file invprob train lcm wrote>"
        )
    return path


def sampler_path(model_path: str | Path) -> Path:
    """``<stem>.sampler.safetensors`` next to a model file."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name.removesuffix(".safetensors") + ".sampler.safetensors")


def save_model(
    generator: HourglassGenerator,
    path: str | Path,
    *,
    kind: Kind,
    manifold: dict | None = None,
    bound: float | None = None,
    extra: dict[str, str] | None = None,
) -> None:
    """Write ``generator``'s weights with the metadata :func:`load_model` needs."""
    metadata = {**generator.config.as_metadata(), "format": FORMAT, "kind": kind, **(extra or {})}
    if manifold is not None:
        metadata["manifold"] = json.dumps(manifold)
    if bound is not None:
        metadata["bound"] = str(bound)
    save_safetensors(generator.state_dict(), path, metadata)


def read_info(path: str | Path) -> ModelInfo:
    """The metadata of a model file (no weights read)."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own errors
        raise WeightsMismatchError(f"{path} is not a readable safetensors file: {str(exc).splitlines()[0]}") from None
    if metadata.get("format") != FORMAT:
        raise WeightsMismatchError(
            f"{path} is not an LCM/GLO model written by invprob train lcm/glo (metadata format "
            f"{metadata.get('format')!r}, expected {FORMAT!r})"
        )
    kind = metadata.get("kind")
    if kind not in ("lcm", "glo"):
        raise WeightsMismatchError(f"{path}: unknown model kind {kind!r} (expected 'lcm' or 'glo')")
    manifold = json.loads(metadata["manifold"]) if "manifold" in metadata else None
    bound = float(metadata["bound"]) if "bound" in metadata else None
    return ModelInfo(kind, HourglassConfig.from_metadata(metadata), manifold, bound, metadata)  # type: ignore[arg-type]


def manifold_net(info: ModelInfo):
    """The trained model's latent ConvNet f (architecture and fixed ``s``), or None for GLO."""
    if info.manifold is None:
        return None
    from invprob_plugin_conv_manifold.manifold import ManifoldNet

    config = dict(info.manifold)
    config["latent_size"] = tuple(config["latent_size"])
    return ManifoldNet(**config)


def load_model(path: str | Path, *, with_sampler: bool = True) -> tuple[HourglassGenerator, ModelInfo]:
    """The generator of a model file (eval mode) and its info; its latent sampler is the fitted
    appendix-I sampler when ``<stem>.sampler.safetensors`` is there, else N(0, 1)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"LCM/GLO model file not found: {path}")
    info = read_info(path)
    generator = HourglassGenerator(info.config)
    load_strict(generator, load_state_dict(path, what="LCM/GLO model"), what=f"hourglass generator ({path})")
    generator.eval()
    generator.lcm_info = info
    sampler_file = sampler_path(path)
    if with_sampler and sampler_file.is_file():
        generator.set_sampler(latent_sampler(GaussianMixtureSampler.load(sampler_file), info))
    return generator, info


def latent_sampler(density: GaussianMixtureSampler, info: ModelInfo):
    """``sampler(batch, rng) -> z [batch, C, h, w]`` from a fitted density over phi (LCM) or z (GLO)."""
    shape = info.config.latent_shape
    net = manifold_net(info)

    def sample(batch: int, rng: torch.Generator | None) -> torch.Tensor:
        flat = density.draw(batch, rng)
        if net is None:
            return flat.reshape(batch, *shape)
        from invprob_plugin_conv_manifold.manifold import unflatten_parameters

        phi = unflatten_parameters(flat, net.parameter_shapes())
        net.clamp_(phi, info.bound if info.bound is not None else 0.01)
        return net.latent(phi)

    return sample
