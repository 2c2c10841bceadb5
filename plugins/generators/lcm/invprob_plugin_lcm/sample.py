"""``invprob lcm sample``: unconditional samples of a trained LCM/GLO as an image grid (appendix I).

The model's latent sampler (PCA + 3-component Gaussian mixture of the trained phi's or z's,
fitted at the end of training, :mod:`invprob_plugin_lcm.sampling`) draws latents, the generator
decodes them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from invprob.seeding import make_rng

from .grid import save_grid
from .models import COMMITTED, committed_model_path, load_model, sampler_path


def resolve_model(name: str) -> Path:
    """A committed model's name or a model file's path -> the model file."""
    if name in COMMITTED:
        return committed_model_path(name)
    path = Path(name).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"--model {name}: no such file, and not a committed model ({', '.join(COMMITTED)})")
    return path


def refuse_overwrite(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise FileExistsError(f"--out {out} exists; pass --force to overwrite it")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``invprob lcm sample``."""
    path = resolve_model(args.model)
    out = Path(args.out)
    refuse_overwrite(out, args.force)
    if args.count < 1:
        raise ValueError(f"--count must be positive, got {args.count}")
    if not sampler_path(path).is_file():
        raise FileNotFoundError(
            f"{path} has no fitted sampler ({sampler_path(path).name} next to it); training writes one at its end"
        )
    generator, info = load_model(path)
    with torch.no_grad():
        images = generator(generator.sample_latent(args.count, make_rng(args.seed, "samples")))
    save_grid(images, out, nrow=min(8, args.count))
    print(f"wrote {args.count} samples of the {info.kind.upper()} model {path.name} to {out}", file=sys.stderr)
    return 0
