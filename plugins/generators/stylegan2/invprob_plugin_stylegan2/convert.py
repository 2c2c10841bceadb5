"""``invprob convert stylegan2 SRC DST.safetensors``: a checked conversion to our own format.

The source (rosinality ``.pt`` or NVlabs ``.pkl``) is loaded strictly into the architecture
its tensors describe, so a file that converts is a file that loads. ``DST`` holds
``g_ema.*``, ``d.*`` (unless ``--no-discriminator``) and ``latent_avg``; its header metadata
holds ``format = invprob-stylegan2``, the JSON ``config`` and the source's name and sha256.
The same JSON config is written next to it (``DST`` with ``.json``) for people and tools;
loading reads the header. Our files are never pickles.

Errors propagate to the invprob CLI, which prints them whole (a shape mismatch keeps its
key-by-key diff) and exits 2 for bad input, as ``invprob convert dcgan`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from invprob.weights import save_safetensors, sha256_of

from .loading import FORMAT, StyleGAN2CheckpointError, build_from_checkpoint, read_checkpoint


def convert(src: str | Path, dst: str | Path, *, discriminator: bool = True) -> dict[str, str]:
    """Convert ``src`` to safetensors at ``dst``; returns the header metadata written."""
    src, dst = Path(src), Path(dst)
    if dst.suffix != ".safetensors":
        raise ValueError(f"the destination {dst} must end in .safetensors")
    if not src.is_file():
        raise FileNotFoundError(f"StyleGAN2 checkpoint not found: {src}")
    if src.suffix.lower() == ".safetensors":
        raise StyleGAN2CheckpointError(f"{src}: already a safetensors file; convert a rosinality .pt or an NVlabs .pkl")
    generator = build_from_checkpoint(read_checkpoint(src, discriminator=discriminator), path=src, discriminator=discriminator)
    state = {f"g_ema.{k}": v for k, v in generator.g_ema.state_dict().items()}
    if generator.discriminator is not None:
        state.update({f"d.{k}": v for k, v in generator.discriminator.state_dict().items()})
    state["latent_avg"] = generator.latent_avg
    config = generator.config.to_json()
    metadata = {"format": FORMAT, "config": config, "source": src.name, "source_sha256": sha256_of(src)}
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_safetensors(state, dst, metadata)
    dst.with_suffix(".json").write_text(json.dumps({**json.loads(config), "source": src.name}, indent=2) + "\n")
    return metadata


def run(args: argparse.Namespace) -> int:
    """Entry point of ``invprob convert stylegan2``."""
    if Path(args.dst).exists() and not args.force:
        print(f"error: {args.dst} exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    try:
        metadata = convert(args.src, args.dst, discriminator=not args.no_discriminator)
    except (StyleGAN2CheckpointError, OSError, ValueError) as exc:  # a wrong input: exit 2, as every command
        print(f"error: {exc}", file=sys.stderr)  # whole: a key/shape diff spans several lines
        return 2
    config = json.loads(metadata["config"])
    print(f"wrote {args.dst}: StyleGAN2 {config['size']}x{config['size']}, style_dim {config['style_dim']}, n_mlp {config['n_mlp']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m invprob_plugin_stylegan2.convert``: the same command without the invprob CLI."""
    from .commands import configure_convert

    parser = argparse.ArgumentParser(prog="invprob convert stylegan2", description=__doc__.splitlines()[0])
    configure_convert(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
