"""StyleGAN2 generator: forward and forward+backward time, ours against upstream's formulation, in one run.

    .venv/bin/python benchmarks/bench_stylegan2.py [--size 256] [--batches 1 4] [--repeats 3] \\
        [--device cpu|cuda] [--threads N]

The model is a randomly initialised config-f-shaped StyleGAN2 (style_dim 512, 8 mapping layers,
upstream's channel widths with channel_multiplier 2) of the ``invprob-plugin-stylegan2``
plugin. The *reference* column runs the same modules inside
``invprob_plugin_stylegan2.ops.reference_formulation()``: upstream's pure-PyTorch fallback path
(rosinality's ``upfirdn2d_native`` step by step, the modulated convolution with per-sample
weights folded into groups). *Ours* is the default path (one shared weight per modulated
convolution for a batch > 1, transposed-convolution upsampling in ``upfirdn2d``). Both give
the same images (to float rounding; checked here).

``forward`` is ``G({"w+": w})`` under ``no_grad``; ``forward+backward`` computes the gradient
of ``G(w+).square().mean()`` with respect to ``w+`` (the weights are frozen, as in inversion).
Each entry is the best (lowest) of ``--repeats`` interleaved measurements, since on a shared
machine noise only adds time. On CUDA the peak memory of one forward+backward is printed too.
"""

from __future__ import annotations

import argparse
import time

import torch

from invprob_plugin_stylegan2.generator import random_stylegan2
from invprob_plugin_stylegan2.networks import StyleGAN2Config, standard_channels
from invprob_plugin_stylegan2.ops import reference_formulation


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _time(fn, device: str) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda"):
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    config = StyleGAN2Config(size=args.size, style_dim=512, n_mlp=8, channels=standard_channels(2))
    generator = random_stylegan2(config, seed=0, discriminator=False, output="raw").to(args.device)
    print(f"StyleGAN2 {args.size}x{args.size} config-f widths, random init, device {args.device}, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, best of {args.repeats}")
    print("| batch | forward ours (s) | forward reference (s) | ratio | fwd+bwd ours (s) | fwd+bwd reference (s) | ratio | peak MiB ours / ref | max abs diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for batch in args.batches:
        wplus = generator.sample_latent(batch, torch.Generator().manual_seed(batch))["w+"]

        def forward() -> torch.Tensor:
            with torch.no_grad():
                return generator({"w+": wplus})

        def backward() -> None:
            latent = wplus.clone().requires_grad_(True)
            generator({"w+": latent}).square().mean().backward()

        times = {("fwd", False): [], ("fwd", True): [], ("bwd", False): [], ("bwd", True): []}
        peaks = {}
        with reference_formulation(True):
            reference_image = forward()  # warm-up, and the check
        ours_image = forward()
        diff = (ours_image - reference_image).abs().max().item()
        for _ in range(args.repeats):
            for reference in (False, True):
                with reference_formulation(reference):
                    times[("fwd", reference)].append(_time(forward, args.device))
                    if args.device.startswith("cuda"):
                        torch.cuda.reset_peak_memory_stats()
                    times[("bwd", reference)].append(_time(backward, args.device))
                    if args.device.startswith("cuda"):
                        peaks[reference] = torch.cuda.max_memory_allocated() / 2**20
        best = {key: min(value) for key, value in times.items()}
        peak = f"{peaks[False]:.0f} / {peaks[True]:.0f}" if peaks else "-"
        print(f"| {batch} | {best[('fwd', False)]:.3f} | {best[('fwd', True)]:.3f} | {best[('fwd', True)] / best[('fwd', False)]:.2f}x "
              f"| {best[('bwd', False)]:.3f} | {best[('bwd', True)]:.3f} | {best[('bwd', True)] / best[('bwd', False)]:.2f}x "
              f"| {peak} | {diff:.1e} |")


if __name__ == "__main__":
    main()
