"""``invprob convert dcgan SRC DST.safetensors``: a checked conversion of a DCGAN state dict.

The source is loaded strictly into the architecture it claims to be (PyTorch-examples netG or
netD, hyperparameters inferred from the shapes; or one of the shared 32x32 CelebA nets), so a
file that converts is a file that loads. The safetensors metadata records the architecture,
the latent distribution and the source's sha256.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from invprob.weights import WeightsMismatchError, load_state_dict, load_strict, save_safetensors, sha256_of

from .celeba32 import Celeba32NetD, Celeba32NetG
from .loading import infer_discriminator_config, infer_generator_config, is_examples_generator, strip_data_parallel
from .model import DcganConfig, DcganNetD, DcganNetG


def convert(src: str | Path, dst: str | Path, *, arch: str = "examples", latent: str | None = None) -> dict[str, str]:
    """Convert ``src`` to safetensors at ``dst``; returns the metadata written."""
    src, dst = Path(src), Path(dst)
    if dst.suffix != ".safetensors":
        raise ValueError(f"the destination {dst} must end in .safetensors")
    state = strip_data_parallel(load_state_dict(src, what="DCGAN weights"))
    metadata = {"format": "invprob-dcgan", "arch": arch, "source": src.name, "source_sha256": sha256_of(src)}
    if arch == "examples":
        if is_examples_generator(state):
            config = DcganConfig(**infer_generator_config(state, path=str(src)), latent=latent or "normal")
            net = DcganNetG(config)
            metadata["role"] = "generator"
        else:
            fields = infer_discriminator_config(state, path=str(src))
            config = DcganConfig(ndf=fields["ndf"], nc=fields["nc"], image_size=fields["image_size"], latent=latent or "normal")
            net = DcganNetD(config)
            metadata["role"] = "discriminator"
        load_strict(net, state, what=f"DCGAN {metadata['role']} {config}")
        metadata.update(config.as_metadata())
    elif arch == "celeba32":
        if any(k.startswith("generator_deconv.") for k in state):
            role = "generator"
        elif any(k.startswith("discriminator.") for k in state):
            role = "discriminator"
        else:
            found = ", ".join(list(state)[:4])
            raise WeightsMismatchError(
                f"{src} is not a dcgan32-celeba checkpoint: expected keys generator_deconv.* or discriminator.*, "
                f"found {found}, ...; for a PyTorch-examples state dict use --arch examples"
            )
        net = Celeba32NetG() if role == "generator" else Celeba32NetD()
        load_strict(net, state, what=f"dcgan32-celeba {role}")
        metadata.update({"role": role, "latent": "uniform", "nz": "100", "image_size": "32", "nc": "3"})
    else:
        raise ValueError(f"unknown DCGAN architecture {arch!r}; expected 'examples' or 'celeba32'")
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_safetensors(net.state_dict(), dst, metadata)
    return metadata


def run(args: argparse.Namespace) -> int:
    """Entry point of ``invprob convert dcgan``."""
    if Path(args.dst).exists() and not args.force:
        print(f"error: {args.dst} exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    metadata = convert(args.src, args.dst, arch=args.arch, latent=args.latent)
    shape = f"{metadata.get('nc', '?')}x{metadata.get('image_size', '?')}x{metadata.get('image_size', '?')}"
    print(f"wrote {args.dst}: {metadata['arch']} {metadata['role']}, images {shape}, latent {metadata.get('latent')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m invprob_plugin_dcgan.convert``: the same command without the invprob CLI."""
    from .commands import configure_convert

    parser = argparse.ArgumentParser(prog="invprob convert dcgan", description=__doc__.splitlines()[0])
    configure_convert(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
