"""``invprob train stylegan2``: train a StyleGAN2 on an image folder, a zip or an ``.npz``.

Rosinality's recipe without path-length regularisation: Adam (lr 0.002, betas (0, 0.99)) for
both nets, D's learning rate and betas adjusted for lazy R1 (every 16 steps, gamma 10),
style mixing with probability 0.9, fresh noise maps every step, and an EMA copy of the
generator (``g_ema``, half-life 10k images) that is what gets saved. Runs on the GPU when
there is one (``--device``). Everything random comes from ``--seed``.

Output folder::

    stylegan2.safetensors   g_ema.*, d.*, latent_avg; JSON config in the header (loads as
                            ``generator: {type: stylegan2, params: {checkpoint: .../stylegan2.safetensors}}``)
    samples.png             a grid of g_ema samples (fixed latents, checkpoint noise)
    train.json              args, steps, losses, time
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import torch

from invprob.images import load_images, save_tiles
from invprob.seeding import make_rng, randn, rand
from invprob.weights import save_safetensors

from .generator import mean_latent
from .loading import FORMAT
from .networks import StyleGAN2Config, StyleGAN2Discriminator, StyleGAN2Network, standard_channels
from .commands import configure_train
from .objectives import d_logistic_loss, g_nonsaturating_loss, r1_penalty

OUTPUT = "stylegan2.safetensors"


def _noises(config: StyleGAN2Config, batch: int, rng: torch.Generator, device: torch.device) -> list[torch.Tensor]:
    return [randn((batch, 1, r, r), rng, device=device) for r in map(config.noise_resolution, range(config.num_layers))]


def _styles(g: StyleGAN2Network, batch: int, mixing: float, rng: torch.Generator, device: torch.device) -> torch.Tensor:
    config = g.config
    w = g.get_latent(randn((batch, config.style_dim), rng, device=device))
    wplus = w[:, None].repeat(1, config.n_latent, 1)
    if mixing > 0 and float(rand((1,), rng)) < mixing:
        cut = int(rand((1,), rng) * (config.n_latent - 1)) + 1
        w2 = g.get_latent(randn((batch, config.style_dim), rng, device=device))
        wplus = torch.cat([wplus[:, :cut], w2[:, None].repeat(1, config.n_latent - cut, 1)], 1)
    return wplus


def train(args: argparse.Namespace) -> dict:
    """Run the training loop; returns the summary written to ``train.json``."""
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images = load_images(Path(args.data), (3, args.size, args.size), select=args.select).images
    channels = {r: min(c, args.max_channels) for r, c in standard_channels(args.channel_multiplier).items()}
    config = StyleGAN2Config(size=args.size, style_dim=args.style_dim, n_mlp=args.n_mlp, channels=channels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        g = StyleGAN2Network(config).to(device)
        d = StyleGAN2Discriminator(config).to(device)
    g_ema = copy.deepcopy(g).eval().requires_grad_(False)
    ratio = args.d_reg_every / (args.d_reg_every + 1)
    g_optim = torch.optim.Adam(g.parameters(), lr=args.lr, betas=(0.0, 0.99))
    d_optim = torch.optim.Adam(d.parameters(), lr=args.lr * ratio, betas=(0.0, 0.99**ratio))
    accumulate = 0.5 ** (32 / (10 * 1000))
    rng = make_rng(args.seed, "train")
    start, history, step = time.perf_counter(), [], 0
    stopped_by = "steps"
    for step in range(1, args.steps + 1):
        if args.minutes is not None and time.perf_counter() - start > args.minutes * 60:
            stopped_by, step = "minutes", step - 1
            break
        index = torch.randint(len(images), (args.batch_size,), generator=rng)
        real = images[index].to(device)
        flip = rand((args.batch_size, 1, 1, 1), rng, device=device) < 0.5
        real = torch.where(flip, real.flip(3), real)
        # discriminator
        g.requires_grad_(False)
        d.requires_grad_(True)
        with torch.no_grad():
            fake, _ = g.synthesis(_styles(g, args.batch_size, args.mixing, rng, device), _noises(config, args.batch_size, rng, device))
        d_loss = d_logistic_loss(d(real), d(fake))
        d_optim.zero_grad(set_to_none=True)
        d_loss.backward()
        d_optim.step()
        r1 = torch.zeros(())
        if args.d_reg_every > 0 and step % args.d_reg_every == 0:
            real.requires_grad_(True)
            r1 = r1_penalty(d(real), real)
            d_optim.zero_grad(set_to_none=True)
            (args.r1 / 2 * r1 * args.d_reg_every).backward()
            d_optim.step()
        # generator
        g.requires_grad_(True)
        d.requires_grad_(False)
        fake, _ = g.synthesis(_styles(g, args.batch_size, args.mixing, rng, device), _noises(config, args.batch_size, rng, device))
        g_loss = g_nonsaturating_loss(d(fake))
        g_optim.zero_grad(set_to_none=True)
        g_loss.backward()
        g_optim.step()
        with torch.no_grad():
            for ema, live in zip(g_ema.parameters(), g.parameters()):
                ema.mul_(accumulate).add_(live, alpha=1 - accumulate)
        if step % 10 == 0 or step == 1:  # a host sync only every 10 steps
            losses = {"d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()), "r1": float(r1.detach())}
            if not all(math.isfinite(v) for v in losses.values()):
                raise FloatingPointError(f"training diverged at step {step}: {losses}")
            history.append({"step": step, **losses})
    latent_avg = mean_latent(g_ema, 4096, seed=args.seed)
    state = {f"g_ema.{k}": v for k, v in g_ema.state_dict().items()}
    state.update({f"d.{k}": v for k, v in d.state_dict().items()})
    state["latent_avg"] = latent_avg
    save_safetensors(state, out / OUTPUT, {"format": FORMAT, "config": config.to_json(), "source": "invprob train stylegan2", "steps": str(step)})
    _save_samples(g_ema, latent_avg, out / "samples.png", seed=args.seed)
    summary = {
        "args": {k: v for k, v in vars(args).items() if not callable(v)},
        "steps": step, "stopped_by": stopped_by, "seconds": round(time.perf_counter() - start, 2),
        "images": len(images), "history": history, "path_length_regularisation": False,
    }
    (out / "train.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def _save_samples(g: StyleGAN2Network, latent_avg: torch.Tensor, path: Path, *, seed: int, side: int = 4) -> None:
    """A ``side`` x ``side`` grid of ``g`` samples (fixed latents, checkpoint noise)."""
    with torch.no_grad():
        z = randn((side * side, g.config.style_dim), make_rng(seed, "samples"), device=latent_avg.device)
        image, _ = g.synthesis(g.get_latent(z)[:, None].repeat(1, g.config.n_latent, 1))
    save_tiles([image[i * side : (i + 1) * side] for i in range(side)], path)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``invprob train stylegan2``."""
    summary = train(args)
    print(f"wrote {Path(args.out) / OUTPUT} after {summary['steps']} steps ({summary['stopped_by']}), {summary['seconds']} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="invprob train stylegan2", description=__doc__.splitlines()[0])
    configure_train(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
