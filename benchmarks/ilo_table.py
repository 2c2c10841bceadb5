"""ILO vs CSGM on held-out CelebA faces with the default 64x64 DCGAN: per-pixel MSE and PSNR.

    nice -n 10 .venv/bin/python benchmarks/ilo_table.py --images 64 --csgm-steps 800 \\
        --ilo-steps 300 200 200 100 --radius 500 1000 2000 [--tasks inpaint5 denoise25 ...] \\
        [--ilo-param best=overall ...] [--threads 2] [--out benchmarks/results/ilo_table_dcgan64.md]

Images: the N highest ids of ../shared/data/celeba64/celeba64.zip (held out from training).
Tasks (the operators of invprob-plugin-imaging, masks and sensing drawn from seed 0, noise
from the noise stream of seed 0, as ``invprob run`` does): random inpainting with 5%, 20%, 50%
of pixels observed; denoising at sigma 25 (0-255 scale) without and with SNA (ILO only: CSGM
has the same observation both times); bicubic super-resolution x4 and x8; partial-circulant
compressed sensing with m = 5% and 10% of n; and the fully observed noiseless face (``project``:
how close each method's range gets to the truth at all). Loss: MSE on the measurements, for both.

Methods, from the same initial latents (the solver stream of seed 0): CSGM (Adam lr 0.1,
constant rate, one restart) with as many steps as all ILO rounds together; ILO (the ilo solver
with its defaults, as the official code, unless ``--ilo-param`` says otherwise: round 0 on z,
then one round per deeper layer in l1 balls of the given radii) and its round 0 alone.
Also, for inpainting at 20% observed, the classical biharmonic inpainting as a row. Cells:
mean per-pixel MSE on the [0, 1] scale (x 1e-3) and mean PSNR (dB) over images.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from invprob.context import BuildContext
from invprob.images import load_images
from invprob.metrics import mse, psnr
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.registry import default_registry

ROOT = Path(__file__).resolve().parents[1]
CELEBA = ROOT / ".." / "shared" / "data" / "celeba64" / "celeba64.zip"

TASKS: dict[str, tuple[str, dict[str, Any], float | None, str]] = {
    "inpaint5": ("inpaint-random", {"observed": 0.05}, None, "random inpainting, 5% observed"),
    "inpaint20": ("inpaint-random", {"observed": 0.2}, None, "random inpainting, 20% observed"),
    "inpaint50": ("inpaint-random", {"observed": 0.5}, None, "random inpainting, 50% observed"),
    "denoise25": ("denoise", {"sigma": 25.0}, None, "denoising, sigma 25"),
    "denoise25-sna": ("denoise", {"sigma": 25.0}, 25.0, "denoising, sigma 25, ILO with SNA"),
    "sr4": ("downsample", {"factor": 4}, None, "super-resolution x4 (bicubic)"),
    "sr8": ("downsample", {"factor": 8}, None, "super-resolution x8 (bicubic)"),
    "cs5": ("cs-circulant", {"fraction": 0.05}, None, "circulant CS, m = 5% of n"),
    "cs10": ("cs-circulant", {"fraction": 0.10}, None, "circulant CS, m = 10% of n"),
    "project": ("identity", {}, None, "projection of the noiseless, fully observed face (the range's reach)"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--csgm-steps", type=int, default=None, help="default: the sum of --ilo-steps")
    parser.add_argument("--ilo-steps", type=int, nargs="+", default=[300, 200, 200, 100])
    parser.add_argument("--radius", type=float, nargs="+", default=[1000.0, 2000.0, 4000.0])
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument(
        "--ilo-param", nargs="+", default=[], metavar="KEY=VALUE",
        help="further ilo params (YAML values), e.g. our earlier variant: best=overall ramp_down=0.25 "
        "project_to_range=true sna_ramp=0.75 radius_latents=1e9",
    )
    parser.add_argument("--no-csgm", action="store_true", help="leave the CSGM column out (it does not depend on the ILO params)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--baseline", action="store_true", help="add biharmonic inpainting for inpaint20")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    csgm_steps = args.csgm_steps or sum(args.ilo_steps)
    registry = default_registry()
    context = BuildContext(registry=registry, seed=args.seed)
    generator = registry.build("generators", "dcgan64-faces", {}, context).eval().requires_grad_(False)
    context.image_shape = generator.image_shape
    context.generator = generator
    batch = load_images(CELEBA, generator.image_shape, select=f"-{args.images}:")
    truth = batch.images
    assert min(int(n) for n in batch.names) >= 201437, "reaches below the held-out ids"
    csgm = registry.build("solvers", "csgm", {"steps": csgm_steps, "lr": args.lr, "restarts": 1}, context)
    ilo_params = {"steps": args.ilo_steps, "lr": args.lr, "radius_features": args.radius}
    for item in args.ilo_param:
        key, _, value = item.partition("=")
        ilo_params[key] = yaml.safe_load(value)
    rows = []
    started_all = time.perf_counter()
    for task in args.tasks:
        kind, params, sna, label = TASKS[task]
        operator = registry.build("operators", kind, params, context)
        observation = operator(truth, rng=context.rng("noise"))
        problem = InverseProblem(
            operator=operator, observation=observation, image_shape=generator.image_shape, generator=generator,
            losses=[WeightedLoss(1.0, registry.build("losses", "mse", {}, context))], ground_truth=truth,
        )
        cells: dict[str, tuple[float, float, float]] = {}
        if sna is None and not args.no_csgm:
            started = time.perf_counter()
            result = csgm.solve(problem, rng=context.rng("solver"), monitor=Monitor(show_progress=False))
            cells["CSGM"] = (*_scores(result.best_image, truth), time.perf_counter() - started)
        ilo = registry.build("solvers", "ilo", {**ilo_params, "sna": sna}, context)
        started = time.perf_counter()
        result = ilo.solve(problem, rng=context.rng("solver"), monitor=Monitor(show_progress=False))
        seconds = time.perf_counter() - started
        cells["ILO round 0"] = (*_scores(result.extra_images["round0"], truth), result.timings["round0"])
        cells["ILO"] = (*_scores(result.best_image, truth), seconds)
        rounds = torch.bincount(result.best_round, minlength=len(args.ilo_steps)).tolist()
        if args.baseline and task == "inpaint20":
            solver = registry.build("solvers", "biharmonic-inpaint", {}, context)
            started = time.perf_counter()
            result_b = solver.solve(problem, rng=context.rng("solver"), monitor=Monitor(show_progress=False))
            cells["biharmonic"] = (*_scores(result_b.best_image, truth), time.perf_counter() - started)
        rows.append((task, label, cells, rounds))
        print(task, {k: f"{v[0] * 1e3:.3f}e-3 / {v[1]:.2f} dB / {v[2]:.0f}s" for k, v in cells.items()}, "best rounds", rounds, flush=True)
    text = _report(args, csgm_steps, rows, time.perf_counter() - started_all)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


def _scores(images: torch.Tensor, truth: torch.Tensor) -> tuple[float, float]:
    return mse(images, truth).mean().item(), psnr(images, truth).mean().item()


def _report(args: argparse.Namespace, csgm_steps: int, rows: list, wall: float) -> str:
    lines = [
        "# ILO vs CSGM on held-out CelebA faces, default 64x64 DCGAN",
        "",
        f"Command: `.venv/bin/python benchmarks/ilo_table.py {shlex.join(sys.argv[1:])}`",
        "",
        f"- images: the {args.images} highest CelebA ids of ../shared/data/celeba64 (held out)",
        f"- CSGM: {csgm_steps} Adam steps, lr {args.lr}, 1 restart; ILO: steps per round {args.ilo_steps}, lr {args.lr}, "
        f"ramp schedule, feature l1 radii {args.radius}, further ILO params {args.ilo_param or 'none (the defaults)'}",
        f"- loss: MSE on the measurements; seed {args.seed}; device cpu, torch {torch.__version__}, "
        f"{args.threads} thread(s), {platform.machine()}; wall time {wall / 60:.1f} min",
        "",
        "Cells: mean per-pixel MSE to the ground truth on the [0, 1] scale (x 1e-3) / mean PSNR (dB); lower MSE is better.",
        "",
        "| task | CSGM | ILO round 0 | ILO | CSGM MSE / ILO MSE | images whose best is from round 0..K | biharmonic |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, label, cells, rounds in rows:
        def cell(name: str) -> str:
            return f"{cells[name][0] * 1e3:.3f} / {cells[name][1]:.2f}" if name in cells else "-"
        ratio = f"{cells['CSGM'][0] / cells['ILO'][0]:.2f}x" if "CSGM" in cells else "-"
        lines.append(f"| {label} | {cell('CSGM')} | {cell('ILO round 0')} | {cell('ILO')} | {ratio} | {rounds} | {cell('biharmonic')} |")
    lines += ["", "Seconds per cell (all images in one batch):", "", "| task | CSGM | ILO |", "|---|---|---|"]
    for task, label, cells, _ in rows:
        lines.append(f"| {label} | {cells['CSGM'][2]:.0f} | {cells['ILO'][2]:.0f} |" if "CSGM" in cells else f"| {label} | - | {cells['ILO'][2]:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
