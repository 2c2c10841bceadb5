"""Loading DCGAN checkpoints: PyTorch-examples state dicts, the shared 32x32 CelebA pair, our safetensors.

Architecture hyperparameters come from the tensors, so a user only names the files:

- generator ``main.0.weight`` is ``[nz, ngf * 2**(n-1), 4, 4]`` and the last ConvT weight is
  ``[ngf, nc, 4, 4]``; ``n + 1`` ConvTs make an image of size ``4 * 2**n``;
- discriminator ``main.0.weight`` is ``[ndf, nc, 4, 4]``.

Every load is strict (:func:`invprob.weights.load_strict`): a mismatch lists the missing,
unexpected and wrongly shaped keys. A ``module.`` prefix (a net saved from ``DataParallel``)
is removed first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import torch

from invprob.weights import WeightsMismatchError, WeightsNotFoundError, find_weights, load_state_dict, load_strict

from .celeba32 import Celeba32Generator, Celeba32NetD, Celeba32NetG
from .model import DcganConfig, DcganGenerator, DcganNetD, DcganNetG

DEFAULT_MODEL = "dcgan64-faces"


def read_metadata(path: Path) -> dict[str, str]:
    """The string metadata of a ``.safetensors`` header (empty for other formats)."""
    if Path(path).suffix != ".safetensors":
        return {}
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


def strip_data_parallel(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove the ``module.`` prefix ``nn.DataParallel`` adds to every key."""
    if state and all(key.startswith("module.") for key in state):
        return {key[len("module.") :]: value for key, value in state.items()}
    return dict(state)


def _conv_weights(state: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    """The 4-D ``main.<i>.weight`` tensors in layer order."""
    indexed = []
    for key, value in state.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "main" and parts[2] == "weight" and value.dim() == 4:
            indexed.append((int(parts[1]), value))
    return [value for _, value in sorted(indexed, key=lambda item: item[0])]


def is_examples_generator(state: Mapping[str, torch.Tensor]) -> bool:
    """An examples ``netG`` has BatchNorm right after its first layer (``main.1``); ``netD`` does not."""
    return "main.0.weight" in state and "main.1.running_mean" in state


def infer_generator_config(state: Mapping[str, torch.Tensor], *, path: str = "state dict") -> dict[str, int]:
    """``nz``, ``ngf``, ``nc`` and ``image_size`` of a PyTorch-examples generator state dict."""
    convs = _conv_weights(state)
    if not convs or not is_examples_generator(state):
        raise WeightsMismatchError(
            f"{path} is not a PyTorch-examples DCGAN generator: expected keys main.0.weight, main.1.running_mean, "
            f"...; found {', '.join(list(state)[:6])}{', ...' if len(state) > 6 else ''}"
        )
    nz, width = convs[0].shape[:2]
    ngf, nc = convs[-1].shape[:2]
    image_size = 4 * 2 ** (len(convs) - 1)
    if width != ngf * 2 ** (len(convs) - 2):
        raise WeightsMismatchError(
            f"{path}: first layer width {width} is not ngf * 2**{len(convs) - 2} with ngf = {ngf}; "
            "this is not the standard DCGAN channel progression"
        )
    return {"nz": int(nz), "ngf": int(ngf), "nc": int(nc), "image_size": int(image_size)}


def infer_discriminator_config(state: Mapping[str, torch.Tensor], *, path: str = "state dict") -> dict[str, int]:
    """``ndf``, ``nc`` and ``image_size`` of a PyTorch-examples discriminator state dict."""
    convs = _conv_weights(state)
    if not convs or is_examples_generator(state):
        raise WeightsMismatchError(f"{path} is not a PyTorch-examples DCGAN discriminator (main.0.weight, main.2.weight, ...)")
    ndf, nc = convs[0].shape[:2]
    return {"ndf": int(ndf), "nc": int(nc), "image_size": 4 * 2 ** (len(convs) - 1)}


def load_dcgan(
    weights: str | Path,
    discriminator_weights: str | Path | None = None,
    *,
    latent: str | None = None,
    search: tuple[Path, ...] = (),
) -> DcganGenerator:
    """A standard DCGAN from a generator state dict (and optionally its discriminator).

    ``latent`` overrides the distribution stored in our safetensors metadata; without either,
    N(0, 1) (what the PyTorch examples train with).
    """
    g_path = find_weights(weights, search, what="DCGAN generator weights")
    g_state = strip_data_parallel(load_state_dict(g_path, what="DCGAN generator weights"))
    fields: dict[str, object] = infer_generator_config(g_state, path=str(g_path))
    fields["latent"] = latent or read_metadata(g_path).get("latent", "normal")
    d_state = None
    if discriminator_weights is not None:
        d_path = find_weights(discriminator_weights, search, what="DCGAN discriminator weights")
        d_state = strip_data_parallel(load_state_dict(d_path, what="DCGAN discriminator weights"))
        d_fields = infer_discriminator_config(d_state, path=str(d_path))
        if (d_fields["nc"], d_fields["image_size"]) != (fields["nc"], fields["image_size"]):
            raise WeightsMismatchError(
                f"discriminator {d_path} takes {d_fields['nc']}x{d_fields['image_size']}x{d_fields['image_size']} "
                f"images but generator {g_path} makes {fields['nc']}x{fields['image_size']}x{fields['image_size']}"
            )
        fields["ndf"] = d_fields["ndf"]
    config = DcganConfig(**fields)  # type: ignore[arg-type]
    net_g = DcganNetG(config)
    load_strict(net_g, g_state, what=f"DCGAN generator {config}")
    net_d = None
    if d_state is not None:
        net_d = DcganNetD(config)
        load_strict(net_d, d_state, what=f"DCGAN discriminator {config}")
    return DcganGenerator(net_g, net_d)


CELEBA32_HELP = (
    "the shared 32x32 CelebA DCGAN is not shipped with the project: its checkpoints are in "
    "../shared/weights/dcgan32-celeba/ (generator.pt, discriminator.pt) next to the repository; "
    "set generator_weights (and discriminator_weights) to those files"
)


def load_celeba32(
    generator_weights: str | Path | None,
    discriminator_weights: str | Path | None = None,
    *,
    search: tuple[Path, ...] = (),
) -> Celeba32Generator:
    """The shared 32x32 CelebA DCGAN from its ``generator.pt`` (and ``discriminator.pt``)."""
    if generator_weights is None:
        raise FileNotFoundError(f"dcgan32-celeba needs generator_weights: {CELEBA32_HELP}")
    net_g = Celeba32NetG()
    g_path = find_weights(generator_weights, search, what="dcgan32-celeba generator weights")
    load_strict(net_g, strip_data_parallel(load_state_dict(g_path)), what="dcgan32-celeba generator")
    net_d = None
    if discriminator_weights is not None:
        net_d = Celeba32NetD()
        d_path = find_weights(discriminator_weights, search, what="dcgan32-celeba discriminator weights")
        load_strict(net_d, strip_data_parallel(load_state_dict(d_path)), what="dcgan32-celeba discriminator")
    return Celeba32Generator(net_g, net_d)


def default_weights_dir() -> Path:
    """The folder inside the package that holds the embedded default model."""
    return Path(str(resources.files("invprob_plugin_dcgan") / "default"))


def load_default(*, discriminator: bool = True) -> DcganGenerator:
    """The embedded 64x64 face DCGAN trained by this project (see ``default/MODEL_CARD.md``)."""
    folder = default_weights_dir()
    generator = folder / f"{DEFAULT_MODEL}.generator.safetensors"
    disc = folder / f"{DEFAULT_MODEL}.discriminator.safetensors"
    for path in (generator, disc) if discriminator else (generator,):
        if not path.is_file():
            raise WeightsNotFoundError(
                f"the embedded default model file {path.name} is missing from {folder}; "
                "reinstall invprob-plugin-dcgan (the file ships inside the package)"
            )
    return load_dcgan(generator, disc if discriminator else None)


def describe(generator: DcganGenerator) -> str:
    """A one-line JSON description of a loaded DCGAN's architecture."""
    return json.dumps(generator.config.as_metadata())
