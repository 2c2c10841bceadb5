"""Command-line options of ``invprob train dcgan`` and ``invprob convert dcgan``.

Kept apart from the commands themselves so that building the CLI parser imports no torch.
"""

from __future__ import annotations

import argparse


def configure_train(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``invprob train dcgan``."""
    parser.add_argument("data", help="image folder, .zip of images, or .npz with 'images' (uint8 NHWC) and optional 'ids'")
    parser.add_argument("--out", required=True,
                        help="output folder (created; an earlier training there is continued with --resume, "
                             "replaced with --force, and otherwise refused)")  # fmt: skip
    parser.add_argument("--image-size", type=int, default=64, choices=(32, 64, 128))
    parser.add_argument("--nz", type=int, default=100)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--ndf", type=int, default=64)
    parser.add_argument("--latent", choices=("uniform", "normal"), default="uniform",
                        help="latent distribution: U(-1,1) (what Yeh et al.'s clamp expects) or N(0,1)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--beta1", type=float, default=0.5)
    parser.add_argument("--epochs", type=float, default=25, help="stop after this many epochs (fractions allowed)")
    parser.add_argument("--minutes", type=float, default=None, help="stop cleanly after this much wall time")
    parser.add_argument("--holdout-highest", type=int, default=0, help="leave out the N highest image ids")
    parser.add_argument("--no-hflip", action="store_true", help="do not flip training images left-right")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sample-every", type=int, default=200, help="steps between sample grids")
    parser.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    parser.add_argument("--force", action="store_true", help="start afresh in OUT, replacing an earlier training there")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (log lines instead)")


def configure_convert(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``invprob convert dcgan``."""
    parser.add_argument("src", help="a DCGAN state dict: .pt/.pth (torch.load, weights_only) or .safetensors")
    parser.add_argument("dst", help="the .safetensors file to write")
    parser.add_argument("--arch", choices=("examples", "celeba32"), default="examples",
                        help="PyTorch-examples netG/netD (default) or the shared 32x32 CelebA DCGAN")
    parser.add_argument("--latent", choices=("uniform", "normal"), default=None,
                        help="latent distribution to record in the metadata (examples default: normal)")
    parser.add_argument("--force", action="store_true", help="overwrite DST if it exists")
