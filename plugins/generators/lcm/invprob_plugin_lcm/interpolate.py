"""``invprob lcm interpolate``: latent interpolation between two images (appendix G).

Both images are fitted with the model frozen (LCM: the phi of each image's latent ConvNet; GLO:
its z), then the parameters are interpolated linearly and decoded; for LCM the path runs
through phi, i.e. along the convolutional manifold. The grid's first row is that interpolation,
the second a linear cross-fade of the two images in pixel space, for reference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from invprob.images import from_uint8

from .fit import fit_latents
from .grid import save_grid
from .latents import FreeLatents, ManifoldLatents
from .models import load_model, manifold_net
from .sample import refuse_overwrite, resolve_model


def _read(path: str, size: int) -> torch.Tensor:
    from PIL import Image

    try:
        with Image.open(path) as image:
            array = np.array(image.convert("RGB").resize((size, size), Image.LANCZOS))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable image: {exc}") from None
    return from_uint8(array)  # [3, H, W]


def run(args: argparse.Namespace) -> int:
    """Entry point of ``invprob lcm interpolate``."""
    path = resolve_model(args.model)
    out = Path(args.out)
    refuse_overwrite(out, args.force)
    if args.frames < 2:
        raise ValueError(f"--frames must be at least 2 (the two ends), got {args.frames}")
    generator, info = load_model(path, with_sampler=False)
    size = info.config.size
    images = torch.stack([_read(args.source, size), _read(args.target, size)])
    net = manifold_net(info)
    if net is not None:
        latents = ManifoldLatents(net, bound=info.bound or 0.01, seed=int(info.manifold["seed"]))
        lr = float(info.metadata.get("latent_lr", 0.1))
    else:
        latents = FreeLatents(info.config.latent_shape, seed=args.seed, unit_ball=bool(info.config.latent_vector))
        lr = float(info.metadata.get("latent_lr", 1.0))
    params, _ = fit_latents(generator, latents, images, steps=args.steps, lr=lr)
    weights = torch.linspace(0, 1, args.frames)
    with torch.no_grad():
        mixed = {k: torch.stack([(1 - t) * v[0] + t * v[1] for t in weights]) for k, v in params.items()}
        path_images = generator(latents.latent(mixed))
        fade = torch.stack([(1 - t) * images[0] + t * images[1] for t in weights])
    save_grid(torch.cat([path_images, fade]), out, nrow=args.frames)
    print(f"wrote the {info.kind.upper()} interpolation ({args.frames} frames) to {out}", file=sys.stderr)
    return 0
