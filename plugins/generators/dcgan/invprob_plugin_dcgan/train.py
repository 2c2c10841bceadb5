"""``invprob train dcgan``: train a standard DCGAN on an image folder, a zip or an ``.npz``.

The objective is the original non-saturating GAN loss with logits (Radford et al. 2016)::

    L_D = BCE(D(x), 1) + BCE(D(G(z)), 0)        L_G = BCE(D(G(z)), 1)

with Adam (lr 2e-4, betas 0.5/0.999) for both nets. Images are scaled to [-1, 1] and optionally
flipped left-right. Everything random (weights, data order, flips, latents) comes from the seed,
and a checkpoint stores the nets, both optimisers and the random state, so ``--resume`` carries
on where a run stopped. ``--minutes`` is a time budget: the run stops cleanly when it is spent,
and writes ``generator.safetensors``, ``discriminator.safetensors`` and a last sample grid.

Output folder::

    generator.safetensors, discriminator.safetensors   PyTorch-examples keys, config in metadata
    checkpoint.safetensors                             everything needed to resume
    samples/step-XXXXXXX.png, samples.png              fixed-latent sample grids (eval mode)
    log.csv, train.json                                losses every 10 steps; args and summary
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from invprob.generator import LatentSpace
from invprob.images import from_uint8
from invprob.weights import save_safetensors

from .commands import configure_train as configure
from .data import load_images
from .grid import save_grid
from .model import DcganConfig, DcganNetD, DcganNetG, init_dcgan_weights

CHECKPOINT = "checkpoint.safetensors"


class Trainer:
    """Holds the nets, optimisers, data and random state of one DCGAN training run."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.out = Path(args.out)
        self.device = torch.device(args.device)
        data = load_images(args.data, holdout_highest=args.holdout_highest, size=args.image_size)
        self.data_ids = data.ids
        self.images = torch.from_numpy(data.images)  # uint8 [N, H, W, C], converted per batch
        self.config = DcganConfig(
            nz=args.nz, ngf=args.ngf, ndf=args.ndf, nc=self.images.shape[-1],
            image_size=args.image_size, latent=args.latent,
        )
        torch.manual_seed(args.seed)
        self.net_g = DcganNetG(self.config).to(self.device)
        self.net_d = DcganNetD(self.config).to(self.device)
        self.net_g.apply(init_dcgan_weights)
        self.net_d.apply(init_dcgan_weights)
        betas = (args.beta1, 0.999)
        self.opt_g = torch.optim.Adam(self.net_g.parameters(), lr=args.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.net_d.parameters(), lr=args.lr, betas=betas)
        self.rng = torch.Generator().manual_seed(args.seed + 1)
        self.fixed_z = self._latent(64, torch.Generator().manual_seed(args.seed + 2))
        self.step = 0
        self.elapsed_before = 0.0  # wall seconds of earlier (resumed) sessions
        self.steps_per_epoch = len(self.images) // args.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"{len(self.images)} training images is fewer than one batch of {args.batch_size}")

    # -- one step -------------------------------------------------------------------------

    def _latent(self, batch: int, rng: torch.Generator) -> torch.Tensor:
        return LatentSpace("z", (self.config.nz,), self.config.latent).sample(batch, rng, device=self.device)

    def _batch(self, indices: torch.Tensor) -> torch.Tensor:
        x = from_uint8(self.images[indices])
        if not self.args.no_hflip:
            flip = torch.rand(len(indices), generator=self.rng) < 0.5
            x[flip] = x[flip].flip(-1)
        return x.to(self.device)

    def train_step(self, real: torch.Tensor) -> tuple[float, float, float, float]:
        """One D update then one G update; returns (loss_D, loss_G, mean D(x), mean D(G(z)))."""
        batch = real.shape[0]
        ones = torch.ones(batch, 1, device=self.device)
        zeros = torch.zeros(batch, 1, device=self.device)
        fake = self.net_g(self._latent(batch, self.rng))

        self.opt_d.zero_grad(set_to_none=True)
        logits_real = self.net_d(real)
        logits_fake = self.net_d(fake.detach())
        loss_d = F.binary_cross_entropy_with_logits(logits_real, ones) + F.binary_cross_entropy_with_logits(logits_fake, zeros)
        loss_d.backward()
        self.opt_d.step()

        self.opt_g.zero_grad(set_to_none=True)
        loss_g = F.binary_cross_entropy_with_logits(self.net_d(fake), ones)
        loss_g.backward()
        self.opt_g.step()
        return (
            loss_d.item(), loss_g.item(),
            torch.sigmoid(logits_real).mean().item(), torch.sigmoid(logits_fake).mean().item(),
        )

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> dict:
        args = self.args
        self.out.mkdir(parents=True, exist_ok=True)
        if args.resume and (self.out / CHECKPOINT).is_file():
            self.load_checkpoint(self.out / CHECKPOINT)
            print(f"resumed from {self.out / CHECKPOINT} at step {self.step}", file=sys.stderr)
        elif args.resume:
            print(f"--resume: no {CHECKPOINT} in {self.out}, starting fresh", file=sys.stderr)
        total_steps = math.floor(args.epochs * self.steps_per_epoch)
        deadline = time.monotonic() + args.minutes * 60 if args.minutes is not None else math.inf
        start, start_step = time.monotonic(), self.step
        log = open(self.out / "log.csv", "a" if self.step else "w", newline="")  # a fresh start, a fresh log
        writer = csv.writer(log)
        if log.tell() == 0:
            writer.writerow(["step", "epoch", "loss_d", "loss_g", "d_real", "d_fake", "wall_s"])
        bar = _progress(total_steps, self.step, disabled=args.no_progress)
        stopped_by = "epochs"
        running = np.zeros(4)
        try:
            while self.step < total_steps:
                if time.monotonic() >= deadline:
                    stopped_by = "minutes"
                    break
                epoch, offset = divmod(self.step, self.steps_per_epoch)
                order = self._epoch_order(epoch)
                indices = order[offset * args.batch_size : (offset + 1) * args.batch_size]
                self.net_g.train()
                self.net_d.train()
                running += self.train_step(self._batch(indices))
                self.step += 1
                bar.update(1)
                if self.step % 10 == 0:
                    mean = running / 10
                    running[:] = 0
                    wall = self.elapsed_before + time.monotonic() - start
                    writer.writerow([self.step, f"{self.step / self.steps_per_epoch:.3f}", *(f"{v:.4f}" for v in mean), f"{wall:.1f}"])
                    rate = (self.step - start_step) * args.batch_size / max(time.monotonic() - start, 1e-9)
                    bar.set_postfix(loss_d=f"{mean[0]:.3f}", loss_g=f"{mean[1]:.3f}", img_s=f"{rate:.1f}", refresh=False)
                    if args.no_progress and self.step % 100 == 0:
                        print(f"step {self.step} epoch {self.step / self.steps_per_epoch:.2f} loss_d {mean[0]:.3f} "
                              f"loss_g {mean[1]:.3f} img/s {rate:.1f}", file=sys.stderr, flush=True)
                    log.flush()
                if self.step % args.sample_every == 0:
                    self.save_samples()
                if self.step % args.checkpoint_every == 0:
                    self.save_all(time.monotonic() - start)
        except KeyboardInterrupt:
            stopped_by = "interrupt"
        finally:
            bar.close()
            log.close()
        session = time.monotonic() - start
        self.save_samples()
        self.save_all(session)
        summary = {
            "steps": self.step,
            "epochs": round(self.step / self.steps_per_epoch, 3),
            "images_seen": self.step * args.batch_size,
            "train_images": len(self.images),
            "held_out_ids": _id_range(self.data_ids, args),
            "stopped_by": stopped_by,
            "wall_seconds_this_session": round(session, 1),
            "wall_seconds_total": round(self.elapsed_before + session, 1),
            "images_per_second_this_session": round((self.step - start_step) * args.batch_size / max(session, 1e-9), 2),
            "config": self.config.as_metadata(),
            "args": {k: v for k, v in vars(args).items() if k != "func"},
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        }
        (self.out / "train.json").write_text(json.dumps(summary, indent=2) + "\n")
        self.elapsed_before += session
        return summary

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        rng = torch.Generator().manual_seed(self.args.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.images), generator=rng)

    # -- outputs -------------------------------------------------------------------------

    @torch.no_grad()
    def save_samples(self) -> None:
        """Sample grid of the fixed latents, in eval mode (BatchNorm running stats) as inversion uses G."""
        self.net_g.eval()
        images = self.net_g(self.fixed_z)
        save_grid(images, self.out / "samples" / f"step-{self.step:07d}.png", nrow=8)
        save_grid(images, self.out / "samples.png", nrow=8)

    def weights_metadata(self) -> dict[str, str]:
        return {
            **self.config.as_metadata(),
            "format": "invprob-dcgan",
            "step": str(self.step),
            "epochs": f"{self.step / self.steps_per_epoch:.3f}",
            "seed": str(self.args.seed),
            "batch_size": str(self.args.batch_size),
        }

    def save_all(self, session_seconds: float) -> None:
        """Generator, discriminator and checkpoint, each written to a temporary file then renamed."""
        metadata = self.weights_metadata()
        _atomic_save(self.net_g.state_dict(), self.out / "generator.safetensors", metadata)
        _atomic_save(self.net_d.state_dict(), self.out / "discriminator.safetensors", metadata)
        tensors: dict[str, torch.Tensor] = {}
        tensors.update({f"G.{k}": v for k, v in self.net_g.state_dict().items()})
        tensors.update({f"D.{k}": v for k, v in self.net_d.state_dict().items()})
        groups = {}
        for name, optimizer in (("optG", self.opt_g), ("optD", self.opt_d)):
            state = optimizer.state_dict()
            for index, values in state["state"].items():
                for key, value in values.items():
                    tensors[f"{name}.{index}.{key}"] = torch.as_tensor(value)
            groups[name] = state["param_groups"]
        tensors["rng.data"] = self.rng.get_state()
        tensors["rng.torch"] = torch.get_rng_state()
        meta = {
            **metadata,
            "checkpoint": json.dumps({"step": self.step, "param_groups": groups,
                                      "elapsed": self.elapsed_before + session_seconds}),
        }
        _atomic_save(tensors, self.out / CHECKPOINT, meta)

    def load_checkpoint(self, path: Path) -> None:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata()
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        saved = DcganConfig(**DcganConfig.from_metadata(metadata))
        if saved != self.config:
            raise ValueError(f"{path} was trained with {saved}, but this run asks for {self.config}; "
                             "use the same architecture options or another --out folder")
        info = json.loads(metadata["checkpoint"])
        self.net_g.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
        self.net_d.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("D.")})
        for name, optimizer in (("optG", self.opt_g), ("optD", self.opt_d)):
            state: dict[int, dict[str, torch.Tensor]] = {}
            for key, value in tensors.items():
                if key.startswith(name + "."):
                    _, index, field = key.split(".", 2)
                    state.setdefault(int(index), {})[field] = value
            optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"][name]})
        self.rng.set_state(tensors["rng.data"])
        torch.set_rng_state(tensors["rng.torch"])
        self.step = int(info["step"])
        self.elapsed_before = float(info["elapsed"])


def _atomic_save(state, path: Path, metadata: dict[str, str]) -> None:
    tmp = path.with_suffix(".tmp")
    save_safetensors(state, tmp, metadata)
    tmp.replace(path)


def _id_range(ids: np.ndarray, args: argparse.Namespace) -> str:
    if not args.holdout_highest:
        return "none"
    return f"the {args.holdout_highest} highest ids (> {int(ids.max())})"


def _progress(total: int, initial: int, *, disabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="step", disable=disabled, dynamic_ncols=True, mininterval=2.0)


TRAINING_FILES = (CHECKPOINT, "generator.safetensors", "discriminator.safetensors", "train.json", "log.csv")
"""What a training writes into its ``--out`` folder; any of them marks an earlier training."""


def check_out(args: argparse.Namespace) -> None:
    """Refuse an ``--out`` folder that holds an earlier training unless ``--resume`` (continue
    it) or ``--force`` (replace it) says what to do with it: a finished model is never
    overwritten by accident."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a folder")
    found = [name for name in TRAINING_FILES if (out / name).exists()]
    if found and not (args.resume or getattr(args, "force", False)):
        raise FileExistsError(
            f"--out {out} holds an earlier training ({', '.join(found)}); pass --resume to continue it, "
            "--force to start afresh and replace it, or choose another --out"
        )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``invprob train dcgan``; returns the exit status."""
    check_out(args)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        summary = Trainer(args).run()
    finally:
        torch.set_num_threads(threads)
    print(json.dumps({k: summary[k] for k in ("steps", "epochs", "stopped_by", "wall_seconds_total",
                                              "images_per_second_this_session")}))
    print(f"wrote {Path(args.out) / 'generator.safetensors'} and discriminator.safetensors", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m invprob_plugin_dcgan.train``: the same command without the invprob CLI."""
    parser = argparse.ArgumentParser(prog="invprob train dcgan", description=__doc__.splitlines()[0])
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
