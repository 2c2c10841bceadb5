"""Command-line options of ``invprob convert stylegan2`` (apart, so that building the CLI imports no torch)."""

from __future__ import annotations

import argparse


def configure_convert(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``invprob convert stylegan2``."""
    parser.add_argument("src", help="a rosinality .pt (torch.load weights_only) or an NVlabs stylegan2-ada-pytorch .pkl")
    parser.add_argument("dst", help="the .safetensors file to write (its JSON config is also written next to it as .json)")
    parser.add_argument("--no-discriminator", action="store_true", help="leave the discriminator out")
    parser.add_argument("--force", action="store_true", help="overwrite DST if it exists")
