"""``invprob train lcm`` and ``invprob train glo``: learn the hourglass generator theta together
with one latent per training image (Athar et al. 2019, eq. 2; Bojanowski et al. 2018).

- **LCM**: image i's latent is ``z_i = f_phi_i(s)``, a small ConvNet per image (batched as grouped
  convolutions, :mod:`invprob_plugin_conv_manifold.manifold`), its conv weights clamped to
  ``[-bound, bound]`` after every step; every phi_i starts from the same values.
- **GLO**: image i's latent is a free map stack z_i, drawn N(0, init_std^2) at the start.

Objective per image: Lap-L1 + ``mse_weight`` * MSE between ``g_theta(z_i)`` and ``x_i``; a step
takes the batch mean. theta: SGD (the paper) or Adam, at ``--lr``. The per-image parameters:
plain SGD where each image moves by ``--latent-lr`` times the gradient of *its own* loss, i.e.
``latent_lr * batch`` on the batch mean (the authors' lr 1.0 at batch 10 is latent-lr 0.1), so
changing the batch size changes nothing per image. There is no optimiser state per image.

The per-image parameters of the whole set live in one safetensors file of stacked tensors,
memory-mapped (:class:`LatentStore`): a step gathers its batch's rows by index and scatters
them back. Everything random comes from the seed (the init, the epoch orders), and a checkpoint
holds theta, its optimiser and the step with a copy of the per-image file, so ``--resume``
continues exactly as an uninterrupted run would.

Output folder::

    model.safetensors            the generator (eval-mode BN statistics), LCM/GLO metadata
    model.sampler.safetensors    the appendix-I sampler (PCA + 3-component Gaussian mixture)
    latents.safetensors          every training image's phi (or z), stacked [N, ...]
    checkpoint.safetensors       theta, optimiser, step (with latents.safetensors: resume)
    samples/step-XXXXXXX.png     originals over reconstructions of 8 fixed training images
    reconstructions.png, samples.png, holdout.png    the same at the end; sampler draws;
                                 held-out originals over their fitted reconstructions
    log.csv, train.json          losses every 10 steps; args, timings, peak memory, held-out numbers
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from invprob.images import from_uint8
from invprob.weights import save_safetensors

from .fit import fit_latents, reconstruction_loss
from .grid import save_grid
from .hourglass import HourglassConfig, build_hourglass
from .latents import FreeLatents, ManifoldLatents, sgd_step_
from .models import save_model, sampler_path
from .sampling import GaussianMixtureSampler
from .store import LatentStore

CHECKPOINT = "checkpoint.safetensors"
LATENTS = "latents.safetensors"
WORKING = ".latents.working.safetensors"
MODEL = "model.safetensors"
TRAINING_FILES = (CHECKPOINT, LATENTS, MODEL, "train.json", "log.csv")
"""What a training writes into its ``--out`` folder; any of them marks an earlier training."""

SAMPLER_ROWS = 5_000
"""At most this many training latents (a seeded random subset) go into the sampler's fit (the
paper: 30 k); 5,000 rows of LCM's 15 k parameters are 300 MB in float32."""


def load_training_images(
    source: str | Path, *, size: int, holdout_highest: int, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train images, train ids, held-out images, held-out ids)``, uint8 ``[N, size, size, 3]``.

    Ids are the file stems when all are integers (CelebA's ``182702.jpg``), else the rank in
    sorted order (for an ``.npz``, its ``ids``); the ``holdout_highest`` highest ids are held out,
    then ``limit`` keeps the first (lowest-id) training images.
    """
    from PIL import Image

    from invprob.images import list_images

    found = list_images(Path(source).expanduser(), field="data")
    stems = [name for name, _ in found]
    numeric = all(s.lstrip("-").isdigit() for s in stems)
    ids = np.array([int(s) for s in stems] if numeric else range(len(stems)), dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    if holdout_highest >= len(order):
        raise ValueError(f"holding out {holdout_highest} ids leaves no training images in {source} ({len(order)} images)")
    split = len(order) - holdout_highest
    train_order, held_order = order[:split], order[split:]
    if limit is not None:
        train_order = train_order[:limit]

    def read(indices: np.ndarray) -> np.ndarray:
        arrays = []
        for index in indices:
            array = np.round(found[index][1]().pixels * 255).astype(np.uint8)  # decoded in [0, 1]
            if array.ndim == 2:
                array = np.repeat(array[..., None], 3, axis=-1)
            if array.shape[:2] != (size, size):
                array = np.asarray(Image.fromarray(array[..., :3]).resize((size, size), Image.LANCZOS))
            arrays.append(array[..., :3])
        return np.stack(arrays) if arrays else np.zeros((0, size, size, 3), np.uint8)

    return read(train_order), ids[train_order], read(held_order), ids[held_order]


class Trainer:
    """Theta, its optimiser, the per-image latents and the data of one LCM/GLO training run."""

    def __init__(self, args: argparse.Namespace, kind: str):
        self.args, self.kind = args, kind
        self.out = Path(args.out)
        device = args.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        loading = time.monotonic()
        images, self.ids, held, self.held_ids = load_training_images(
            args.data, size=args.image_size, holdout_highest=args.holdout_highest, limit=args.limit
        )
        self.data_seconds = time.monotonic() - loading
        self.images = torch.from_numpy(images)
        self.held = torch.from_numpy(held)
        self.config = HourglassConfig(
            size=args.image_size, latent_channels=args.latent_channels, latent_size=args.latent_size, width=args.width,
            latent_vector=getattr(args, "vector_latent", 0) or 0,
        )
        self.generator = build_hourglass(self.config, seed=args.seed).to(self.device)
        self.manifold_config: dict | None = None
        if kind == "lcm":
            from invprob_plugin_conv_manifold.manifold import ManifoldNet

            net = ManifoldNet(args.input_channels, args.manifold_channels, args.latent_channels,
                              args.latent_size, args.noise_scale, seed=args.seed)  # fmt: skip
            self.manifold_config = net.config()
            self.latents = ManifoldLatents(net, bound=args.bound, seed=args.seed).to(self.device)
        else:
            self.latents = FreeLatents(self.config.latent_shape, init_std=args.init_std, seed=args.seed,
                                       unit_ball=bool(self.config.latent_vector))  # fmt: skip
        if args.optimizer == "adam":
            self.opt = torch.optim.Adam(self.generator.parameters(), lr=args.lr, betas=(0.5, 0.999))
        else:
            self.opt = torch.optim.SGD(self.generator.parameters(), lr=args.lr)
        self.step = 0
        self.elapsed_before = 0.0
        self.steps_per_epoch = len(self.images) // args.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"{len(self.images)} training images is fewer than one batch of {args.batch_size}")
        self.shown = torch.arange(min(8, len(self.images)))  # the images of the reconstruction grids
        self.store: LatentStore | None = None

    # -- one step -------------------------------------------------------------------------

    def train_step(self, indices: torch.Tensor) -> float:
        """One SGD step on theta and on the batch's per-image latents; returns the batch loss."""
        assert self.store is not None
        rows = {k: v.to(self.device).requires_grad_(True) for k, v in self.store.gather(indices).items()}
        target = from_uint8(self.images[indices]).to(self.device)
        self.generator.train()
        loss = reconstruction_loss(self.generator(self.latents.latent(rows)), target, self.args.mse_weight).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        sgd_step_(rows, self.args.latent_lr, len(indices))
        self.latents.constrain_(rows)
        self.store.scatter(indices, rows)
        return loss.item()

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        rng = torch.Generator().manual_seed(self.args.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.images), generator=rng)

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> dict:
        args = self.args
        self.out.mkdir(parents=True, exist_ok=True)
        if args.resume and (self.out / CHECKPOINT).is_file():
            self.load_checkpoint()
            print(f"resumed from {self.out / CHECKPOINT} at step {self.step}", file=sys.stderr)
        else:
            if args.resume:
                print(f"--resume: no {CHECKPOINT} in {self.out}, starting fresh", file=sys.stderr)
            self.store = LatentStore.create(self.out / WORKING, self.latents.shapes(), len(self.images), self._store_metadata())
            self.latents.fill_store(self.store)
        total_steps = math.floor(args.epochs * self.steps_per_epoch)
        deadline = time.monotonic() + args.minutes * 60 if args.minutes is not None else math.inf
        start, start_step = time.monotonic(), self.step
        log = open(self.out / "log.csv", "a" if self.step else "w", newline="")
        writer = csv.writer(log)
        if log.tell() == 0:
            writer.writerow(["step", "epoch", "loss", "wall_s"])
        bar = _progress(total_steps, self.step, disabled=args.no_progress)
        stopped_by = "epochs"
        running, counted = 0.0, 0
        try:
            while self.step < total_steps:
                if time.monotonic() >= deadline:
                    stopped_by = "minutes"
                    break
                epoch, offset = divmod(self.step, self.steps_per_epoch)
                indices = self._epoch_order(epoch)[offset * args.batch_size : (offset + 1) * args.batch_size]
                running += self.train_step(indices)
                counted += 1
                self.step += 1
                bar.update(1)
                if self.step % 10 == 0:
                    mean, running, counted = running / counted, 0.0, 0
                    wall = self.elapsed_before + time.monotonic() - start
                    writer.writerow([self.step, f"{self.step / self.steps_per_epoch:.3f}", f"{mean:.5f}", f"{wall:.1f}"])
                    rate = (self.step - start_step) * args.batch_size / max(time.monotonic() - start, 1e-9)
                    bar.set_postfix(loss=f"{mean:.4f}", img_s=f"{rate:.1f}", refresh=False)
                    if args.no_progress and self.step % 100 == 0:
                        print(f"step {self.step} epoch {self.step / self.steps_per_epoch:.2f} loss {mean:.4f} "
                              f"img/s {rate:.1f}", file=sys.stderr, flush=True)  # fmt: skip
                    log.flush()
                if self.step % args.sample_every == 0:
                    self.save_reconstructions(self.out / "samples" / f"step-{self.step:07d}.png")
                if self.step % args.checkpoint_every == 0:
                    self.save_checkpoint(time.monotonic() - start)
        except KeyboardInterrupt:
            stopped_by = "interrupt"
        finally:
            bar.close()
            log.close()
        session = time.monotonic() - start
        self.save_checkpoint(session)
        summary = {
            "kind": self.kind,
            "steps": self.step,
            "epochs": round(self.step / self.steps_per_epoch, 3),
            "images_seen": self.step * args.batch_size,
            "train_images": len(self.images),
            "train_ids": f"{int(self.ids.min())}..{int(self.ids.max())}" if len(self.ids) else "none",
            "held_out": f"the {args.holdout_highest} highest ids" + (f" ({int(self.held_ids.min())}..{int(self.held_ids.max())})" if len(self.held_ids) else ""),
            "stopped_by": stopped_by,
            "wall_seconds_this_session": round(session, 1),
            "wall_seconds_total": round(self.elapsed_before + session, 1),
            "images_per_second_this_session": round((self.step - start_step) * args.batch_size / max(session, 1e-9), 2),
            "generator_parameters": sum(p.numel() for p in self.generator.parameters()),
            "latent_parameters_per_image": sum(int(np.prod(s)) for s in self.latents.shapes().values()),
            "config": self.config.as_metadata(),
            "manifold": self.manifold_config,
            "args": {k: v for k, v in vars(args).items() if k not in ("func",)},
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": str(self.device),
        }
        summary["data_load_seconds"] = round(self.data_seconds, 1)
        summary["seconds_per_step_this_session"] = round(session / max(self.step - start_step, 1), 3)
        summary["peak_rss_mb_training"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        summary["rss_now_mb"] = _rss_split()
        self.finish(summary)
        summary["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        (self.out / "train.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        self.elapsed_before += session
        return summary

    # -- outputs -------------------------------------------------------------------------

    def _store_metadata(self) -> dict[str, str]:
        metadata = {"kind": self.kind, "ids": json.dumps([int(i) for i in self.ids])}
        if self.manifold_config is not None:
            metadata["manifold"] = json.dumps(self.manifold_config)
        return metadata

    @torch.no_grad()
    def save_reconstructions(self, path: Path) -> None:
        """Originals over reconstructions of the fixed training images, in eval mode (as solvers use g)."""
        assert self.store is not None
        self.generator.eval()
        rows = {k: v.to(self.device) for k, v in self.store.gather(self.shown).items()}
        recon = self.generator(self.latents.latent(rows)).cpu()
        originals = from_uint8(self.images[self.shown])
        save_grid(torch.cat([originals, recon]), path, nrow=len(self.shown))

    def _model_metadata(self) -> dict[str, str]:
        return {
            "step": str(self.step),
            "epochs": f"{self.step / self.steps_per_epoch:.3f}",
            "seed": str(self.args.seed),
            "batch_size": str(self.args.batch_size),
            "train_images": str(len(self.images)),
            "latent_lr": str(self.args.latent_lr),
            "mse_weight": str(self.args.mse_weight),
        }

    def save_checkpoint(self, session_seconds: float) -> None:
        """The per-image file first, then theta/optimiser/step; each whole or not at all. Both
        record the step, so a resume finds out if a crash came between the two."""
        assert self.store is not None
        self.store.copy_to(self.out / LATENTS)
        steps = {"step": str(self.step)}
        save_safetensors({"step": torch.tensor([self.step])}, self.out / ".latents-step.safetensors", steps)
        tensors = {f"G.{k}": v for k, v in self.generator.state_dict().items()}
        state = self.opt.state_dict()
        for index, values in state["state"].items():
            for key, value in values.items():
                tensors[f"opt.{index}.{key}"] = torch.as_tensor(value)
        meta = {
            **self.config.as_metadata(),
            "kind": self.kind,
            "checkpoint": json.dumps({"step": self.step, "param_groups": state["param_groups"],
                                      "elapsed": self.elapsed_before + session_seconds}),
        }  # fmt: skip
        save_safetensors(tensors, self.out / CHECKPOINT, meta)
        save_model(self.generator, self.out / MODEL, kind=self.kind, manifold=self.manifold_config,
                   bound=getattr(self.latents, "bound", None), extra=self._model_metadata())  # fmt: skip

    def load_checkpoint(self) -> None:
        from safetensors import safe_open

        path = self.out / CHECKPOINT
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata()
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        saved = HourglassConfig.from_metadata(metadata)
        if saved != self.config or metadata.get("kind") != self.kind:
            raise ValueError(f"{path} is a {metadata.get('kind')} training of {saved}, but this run asks for a "
                             f"{self.kind} of {self.config}; use the same options or another --out folder")  # fmt: skip
        info = json.loads(metadata["checkpoint"])
        with safe_open(str(self.out / ".latents-step.safetensors"), framework="pt") as handle:
            latents_step = int(handle.metadata()["step"])
        if latents_step != info["step"]:
            raise ValueError(f"{self.out}: the per-image latents are of step {latents_step} but the checkpoint of "
                             f"step {info['step']} (interrupted while checkpointing); start afresh with --force")  # fmt: skip
        self.generator.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("opt."):
                _, index, field = key.split(".", 2)
                state.setdefault(int(index), {})[field] = value
        self.opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})
        store = LatentStore(self.out / LATENTS)
        if store.size != len(self.images) or {n: store.shape(n) for n in store.names()} != self.latents.shapes():
            raise ValueError(f"{self.out / LATENTS} holds latents of {store.size} images shaped "
                             f"{ {n: store.shape(n) for n in store.names()} }; this run has {len(self.images)} "
                             f"images and latents {self.latents.shapes()}: use the same data and options")  # fmt: skip
        del store
        import shutil

        shutil.copyfile(self.out / LATENTS, self.out / WORKING)
        self.store = LatentStore(self.out / WORKING, writable=True)
        self.step = int(info["step"])
        self.elapsed_before = float(info["elapsed"])

    def finish(self, summary: dict) -> None:
        """The end of a session: grids, the fitted sampler, the held-out reconstruction numbers."""
        assert self.store is not None
        self.save_reconstructions(self.out / "reconstructions.png")
        rows = self._sampler_rows()
        if len(rows) >= 4:
            density = GaussianMixtureSampler.fit(rows, dims=self.args.pca_dims, seed=self.args.seed)
            density.save(sampler_path(self.out / MODEL), {"kind": self.kind, "rows": str(len(rows))})
            from .models import load_model

            generator, _ = load_model(self.out / MODEL)
            with torch.no_grad():
                from invprob.seeding import make_rng

                samples = generator(generator.sample_latent(32, make_rng(self.args.seed, "samples")))
            save_grid(samples, self.out / "samples.png", nrow=8)
        count = min(self.args.eval_images, len(self.held))
        if count and self.args.eval_steps:
            held = from_uint8(self.held[-count:]).to(self.device)  # the highest held-out ids
            _, recon = fit_latents(self.generator, self.latents, held, steps=self.args.eval_steps,
                                   lr=self.args.latent_lr, mse_weight=self.args.mse_weight)  # fmt: skip
            mse = (recon - held).square().flatten(1).mean(1)  # on [-1, 1]
            mse01 = mse / 4  # on [0, 1], as the paper's numbers
            psnr = 10 * torch.log10(1 / mse01)
            objective = reconstruction_loss(recon, held, self.args.mse_weight)
            summary["held_out_fit"] = {
                "images": count, "ids": f"{int(self.held_ids[-count])}..{int(self.held_ids[-1])}",
                "steps": self.args.eval_steps, "lr": self.args.latent_lr,
                "mse_01": round(mse01.mean().item(), 5), "psnr_db": round(psnr.mean().item(), 2),
                "lap_l1_plus_mse": round(objective.mean().item(), 5),
            }  # fmt: skip
            save_grid(torch.cat([held[:8].cpu(), recon[:8].cpu()]), self.out / "holdout.png", nrow=min(8, count))
        with torch.no_grad():
            self.generator.eval()
            index = torch.arange(min(len(self.images), 256))
            rows_t = {k: v.to(self.device) for k, v in self.store.gather(index).items()}
            recon = self.generator(self.latents.latent(rows_t))
            target = from_uint8(self.images[index]).to(self.device)
            summary["train_fit"] = {
                "images": len(index),
                "mse_01": round(((recon - target).square().flatten(1).mean(1) / 4).mean().item(), 5),
                "lap_l1_plus_mse": round(reconstruction_loss(recon, target, self.args.mse_weight).mean().item(), 5),
            }

    def _sampler_rows(self) -> np.ndarray:
        assert self.store is not None
        count = self.store.size
        index = np.arange(count)
        if count > SAMPLER_ROWS:
            index = np.sort(np.random.default_rng(self.args.seed).choice(count, SAMPLER_ROWS, replace=False))
        # the flattening order is the store's (= the net's parameter order, what unflatten expects)
        return np.concatenate(
            [np.asarray(self.store.all(n)[index], dtype=np.float32).reshape(len(index), -1) for n in self.latents.shapes()],
            axis=1,
        )


def _rss_split() -> dict[str, float]:
    """Resident memory now, split into anonymous and file-backed (the memory-mapped latents'
    pages are file-backed: the kernel can drop them), from ``/proc/self/status`` (Linux; else {})."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    fields = {"RssAnon:": "anonymous", "RssFile:": "file_backed", "VmHWM:": "peak"}
    return {fields[p[0]]: round(int(p[1]) / 1024, 1) for p in (line.split() for line in lines) if p and p[0] in fields}


def _progress(total: int, initial: int, *, disabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="step", disable=disabled, dynamic_ncols=True, mininterval=2.0)


def check_out(args: argparse.Namespace) -> None:
    """Refuse an ``--out`` folder that holds an earlier training unless ``--resume`` (continue
    it) or ``--force`` (replace it) says what to do with it."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a folder")
    found = [name for name in TRAINING_FILES if (out / name).exists()]
    if found and not (args.resume or args.force):
        raise FileExistsError(
            f"--out {out} holds an earlier training ({', '.join(found)}); pass --resume to continue it, "
            "--force to start afresh and replace it, or choose another --out"
        )


def _run(args: argparse.Namespace, kind: str) -> int:
    check_out(args)
    if kind == "lcm" and any(c < 1 for c in args.manifold_channels):
        raise ValueError(f"--manifold-channels must be positive, got {args.manifold_channels}")
    for name in ("batch_size", "latent_channels", "width"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        summary = Trainer(args, kind).run()
    finally:
        torch.set_num_threads(threads)
    keys = ("steps", "epochs", "stopped_by", "wall_seconds_total", "images_per_second_this_session", "peak_rss_mb")
    print(json.dumps({k: summary[k] for k in keys}))
    print(f"wrote {Path(args.out) / MODEL}", file=sys.stderr)
    return 0


def run_lcm(args: argparse.Namespace) -> int:
    """Entry point of ``invprob train lcm``; returns the exit status."""
    return _run(args, "lcm")


def run_glo(args: argparse.Namespace) -> int:
    """Entry point of ``invprob train glo``; returns the exit status."""
    return _run(args, "glo")


def main(argv: list[str] | None = None, *, kind: str = "lcm") -> int:
    """``python -m invprob_plugin_lcm.train [lcm|glo] ...``: the commands without the invprob CLI."""
    from .commands import configure_train_glo, configure_train_lcm

    parser = argparse.ArgumentParser(prog=f"invprob train {kind}", description=__doc__.splitlines()[0])
    (configure_train_lcm if kind == "lcm" else configure_train_glo)(parser)
    return _run(parser.parse_args(argv), kind)


if __name__ == "__main__":
    argv = sys.argv[1:]
    chosen = argv.pop(0) if argv and argv[0] in ("lcm", "glo") else "lcm"
    raise SystemExit(main(argv, kind=chosen))
