"""Command-line options of ``invprob train lcm|glo`` and ``invprob lcm sample|interpolate``.

Kept apart from the commands themselves so that building the CLI parser imports no torch.
"""

from __future__ import annotations

import argparse


def _configure_train(parser: argparse.ArgumentParser, *, kind: str) -> None:
    lcm = kind == "lcm"
    parser.add_argument("data", help="image folder, .zip of images, or .npz with 'images' (uint8 NHWC) and optional 'ids'")
    parser.add_argument("--out", required=True,
                        help="output folder (created; an earlier training there is continued with --resume, "
                             "replaced with --force, and otherwise refused)")  # fmt: skip
    parser.add_argument("--image-size", type=int, default=64, choices=(32, 64, 128))
    parser.add_argument("--latent-channels", type=int, default=32, help="channels C of the latent maps z")
    parser.add_argument("--latent-size", type=int, default=16, help="side of the latent maps (a power of two, >= 16)")
    parser.add_argument("--width", type=int, default=16,
                        help="width w of the hourglass generator, the official net's 128 (16: 0.51 M parameters at 64 px; 32: 1.96 M)")
    if lcm:
        parser.add_argument("--manifold-channels", type=int, nargs="+", default=[8, 16, 32],
                            help="hidden widths of the latent ConvNet f (len + 1 unpadded 3x3 convs)")
        parser.add_argument("--input-channels", type=int, default=2, help="channels of the fixed noise input s")
        parser.add_argument("--bound", type=float, default=0.01, help="box constraint on f's conv weights")
        parser.add_argument("--noise-scale", type=float, default=0.1, help="s ~ U(0, 1) * noise_scale")
    else:
        parser.add_argument("--init-std", type=float, default=0.1, help="z_i ~ N(0, init_std^2) at the start")
        parser.add_argument("--vector-latent", type=int, default=0, metavar="D",
                            help="GLO's vector variant: z_i is a D-vector (a linear layer maps it to the latent maps), "
                                 "projected onto the unit ball after every step; 0: latent maps")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="adam",
                        help="for theta (the generator): Adam (betas 0.5, 0.999; converges faster on a short CPU "
                             "budget) or plain SGD as the paper (--optimizer sgd --lr 1.0)")  # fmt: skip
    parser.add_argument("--lr", type=float, default=0.002, help="learning rate of theta")
    parser.add_argument("--latent-lr", type=float, default=(0.03 if lcm else 30.0),
                        help="per-image learning rate (plain SGD): each image's " + ("phi" if lcm else "z") + " moves "
                             "by latent_lr * grad of its own loss, whatever the batch size. The authors' "
                             + ("lr 1.0 at batch 10" if lcm else "lr 10 at batch 10") + " on the batch mean is "
                             + ("0.1" if lcm else "1.0") + " here; the default is what trained the committed model")  # fmt: skip
    parser.add_argument("--mse-weight", type=float, default=1.0, help="weight of the MSE term added to Lap-L1")
    parser.add_argument("--epochs", type=float, default=10, help="stop after this many epochs (fractions allowed)")
    parser.add_argument("--minutes", type=float, default=None, help="stop cleanly after this much wall time")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images (by id) only")
    parser.add_argument("--holdout-highest", type=int, default=1000, help="leave out the N highest image ids")
    parser.add_argument("--eval-images", type=int, default=64,
                        help="at the end, fit this many of the highest held-out ids and report their reconstruction")
    parser.add_argument("--eval-steps", type=int, default=300, help="optimisation steps of that fit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, ... (auto: cuda when present)")
    parser.add_argument("--sample-every", type=int, default=200, help="steps between reconstruction grids")
    parser.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    parser.add_argument("--pca-dims", type=int, default=64, help="PCA dimensions of the appendix-I sampler")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    parser.add_argument("--force", action="store_true", help="start afresh in OUT, replacing an earlier training there")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (log lines instead)")


def configure_train_lcm(parser: argparse.ArgumentParser) -> None:
    """The options of ``invprob train lcm``."""
    _configure_train(parser, kind="lcm")


def configure_train_glo(parser: argparse.ArgumentParser) -> None:
    """The options of ``invprob train glo``."""
    _configure_train(parser, kind="glo")


def _model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="lcm-faces64",
                        help="a committed model (lcm-faces64, glo-faces64) or a model .safetensors that "
                             "invprob train lcm/glo wrote")  # fmt: skip


def configure_sample(parser: argparse.ArgumentParser) -> None:
    """The options of ``invprob lcm sample``."""
    _model_option(parser)
    parser.add_argument("--out", required=True, help="the PNG grid to write")
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")


def configure_interpolate(parser: argparse.ArgumentParser) -> None:
    """The options of ``invprob lcm interpolate``."""
    _model_option(parser)
    parser.add_argument("source", help="first image (resized to the model's size)")
    parser.add_argument("target", help="second image")
    parser.add_argument("--out", required=True, help="the PNG grid to write (rows: latent interpolation, pixel cross-fade)")
    parser.add_argument("--frames", type=int, default=8, help="images per row, ends included")
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps fitting each image")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
