"""Command-line options of ``invprob convert stylegan2`` and ``invprob train stylegan2`` (apart, so that building the CLI imports no torch)."""

from __future__ import annotations

import argparse


def configure_convert(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``invprob convert stylegan2``."""
    parser.add_argument("src", help="a rosinality .pt (torch.load weights_only) or an NVlabs stylegan2-ada-pytorch .pkl")
    parser.add_argument("dst", help="the .safetensors file to write (its JSON config is also written next to it as .json)")
    parser.add_argument("--no-discriminator", action="store_true", help="leave the discriminator out")
    parser.add_argument("--force", action="store_true", help="overwrite DST if it exists")


def configure_train(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``invprob train stylegan2``."""
    parser.add_argument("data", help="image folder, .zip of images, or .npz with 'images' (uint8 NHWC)")
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--size", type=int, default=64, help="resolution, a power of two (images are resized)")
    parser.add_argument("--select", default=None, help="images to use, as a slice of the sorted ids ('0:16266')")
    parser.add_argument("--style-dim", type=int, default=512)
    parser.add_argument("--n-mlp", type=int, default=8)
    parser.add_argument("--channel-multiplier", type=int, default=2)
    parser.add_argument("--max-channels", type=int, default=512, help="cap on every width (smaller = faster)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--minutes", type=float, default=None, help="stop cleanly after this much wall time")
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--r1", type=float, default=10.0)
    parser.add_argument("--d-reg-every", type=int, default=16)
    parser.add_argument("--mixing", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
