"""LCM Table 1 (Athar et al., ICLR 2019) redone at 64 px on held-out CelebA faces.

    nice -n 10 .venv/bin/python benchmarks/lcm_table.py --methods dip --tasks inpaint sr4 colorize \\
        --images 64 --threads 1 --cells benchmarks/results/lcm_table_64faces_cells
    .venv/bin/python benchmarks/lcm_table.py --report --cells benchmarks/results/lcm_table_64faces_cells \\
        --out benchmarks/results/lcm_table_64faces.md

Images: the N highest ids of ../shared/data/celeba64/celeba64.zip (held out from the DCGAN's
and the LCM/GLO models' training). Tasks, as the recipes ``recipes/{lcm,glo,dip}-*.yaml``
define them: centre inpainting with a 25x25 hole (the paper's 50/128), x4 super-resolution
(Lanczos-3), colorization (grey = channel mean). One observation per task, made once.

Methods: LCM (``lcm`` solver on phi with the conv-manifold prior), LCM without the manifold
at test time (``lcm`` on z), GLO (``lcm`` on z of the GLO model), DIP (``dip``), all built
from their recipes (``recipes/<method>-<task>.yaml``, so the table uses what a user runs), and
the default 64 px DCGAN (``dcgan64-faces``) with CSGM (MSE, Adam 0.1) and with Yeh et al.
(inpainting: the ``yeh`` solver and its defaults, context loss + discriminator prior
lambda 0.003 + z in [-1, 1] + Poisson blending; the other tasks have no mask to weigh or
blend with, so "Yeh" there is the csgm solver on Yeh's objective: L1 on the measurements +
the discriminator prior + the box, Adam 0.01).

Each run writes one JSON cell per (method, task) into ``--cells``; ``--report`` assembles the
table from every cell there (so methods can run in separate processes, at different times).
Cells: MSE to the ground truth on the [0, 1] scale (inpainting: over the hole only, as the
paper) and PSNR of the same pixels, both means over images.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

import invprob
from invprob.context import BuildContext
from invprob.images import load_images
from invprob.metrics import mse, psnr
from invprob.problem import InverseProblem, WeightedLoss
from invprob.progress import Monitor
from invprob.registry import default_registry

ROOT = Path(__file__).resolve().parents[1]
CELEBA = ROOT / ".." / "shared" / "data" / "celeba64" / "celeba64.zip"
FIRST_HELD_OUT = 201437  # the 1,000 highest CelebA ids were held out of every model's training

TASKS = {"inpaint": "centre inpainting 25x25", "sr4": "super-resolution x4", "colorize": "colorization"}
RECIPE_TASK = {"inpaint": "inpaint", "sr4": "superres", "colorize": "colorize"}
RECIPE_METHODS = {"lcm": "lcm", "lcm-nomanifold": "lcm-nomanifold", "glo": "glo", "dip": "dip"}
METHODS = {
    "lcm": "LCM",
    "glo": "GLO",
    "lcm-nomanifold": "LCM, z at test time",
    "dip": "DIP",
    "csgm": "DCGAN + CSGM",
    "yeh": "DCGAN + Yeh",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--images", type=int, default=64, help="the N highest-id faces")
    parser.add_argument("--first", type=int, default=None, help="only the first K of those N (a stated subset, for slow methods)")
    parser.add_argument("--steps", type=int, default=None, help="override every solver's steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--override", action="append", default=[], metavar="KEY=VALUE",
        help="recipe override for the recipe-built methods (lcm, glo, lcm-nomanifold, dip), e.g. solver.params.lr=0.003",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cells", type=Path, default=ROOT / "benchmarks" / "results" / "lcm_table_64faces_cells")
    parser.add_argument("--report", action="store_true", help="only assemble the table from the cells")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.report:
        text = report(args.cells)
        print(text)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        return
    torch.set_num_threads(args.threads)
    args.cells.mkdir(parents=True, exist_ok=True)
    batch = load_images(CELEBA, (3, 64, 64), select=f"-{args.images}:")
    assert min(int(n) for n in batch.names) >= FIRST_HELD_OUT, "reaches below the held-out ids"
    truth, names = batch.images, batch.names
    if args.first:
        truth, names = truth[: args.first], names[: args.first]
    for task in args.tasks:
        operator, observation, hole = observe(task, truth, args.seed)
        for method in args.methods:
            started = time.perf_counter()
            solver, problem, steps = build(method, task, operator, observation, truth, args)
            result = solver.solve(problem, rng=problem_rng(args.seed), monitor=Monitor(show_progress=False))
            seconds = time.perf_counter() - started
            mse_per_image = mse(scored(result.best_image, hole), scored(truth, hole))
            cell = {
                "method": method, "task": task, "images": len(names), "names": names, "steps": steps,
                "mse": mse_per_image.mean().item(), "psnr": psnr(scored(result.best_image, hole), scored(truth, hole)).mean().item(),
                "mse_per_image": mse_per_image.tolist(), "seconds": seconds, "threads": args.threads,
                "overrides": args.override if method in RECIPE_METHODS else [],
                "command": shlex.join([".venv/bin/python", "benchmarks/lcm_table.py", *sys.argv[1:]]),
                "torch": torch.__version__, "machine": platform.machine(),
            }
            (args.cells / f"{method}-{task}.json").write_text(json.dumps(cell, indent=1), encoding="utf-8")
            print(f"{method} {task}: MSE {cell['mse'] * 1e3:.3f}e-3 PSNR {cell['psnr']:.2f} dB, {seconds:.0f} s", flush=True)


def problem_rng(seed: int) -> torch.Generator:
    from invprob.seeding import make_rng

    return make_rng(seed, "solver")


def observe(task: str, truth: torch.Tensor, seed: int):
    """The task's operator (from the DIP recipe, which needs no model), its observation of
    ``truth`` and the box of the pixels scored (the hole for inpainting, else None)."""
    recipe = invprob.load_recipe(ROOT / "recipes" / f"dip-{RECIPE_TASK[task]}.yaml")
    context = BuildContext(registry=default_registry(), image_shape=(3, 64, 64), seed=seed)
    operator = context.registry.build("operators", recipe.operator.type, recipe.operator.params, context)
    observation = operator(truth, rng=context.rng("noise"))
    if task != "inpaint":
        return operator, observation, None
    rows, cols = torch.nonzero(operator.observed_mask()[0, 0] == 0, as_tuple=True)  # the missing centre box
    return operator, observation, (slice(int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1))


def scored(image: torch.Tensor, box: tuple[slice, slice] | None) -> torch.Tensor:
    """The pixels a cell scores: the hole's box (inpainting, as the paper) or the whole image."""
    return image if box is None else image[..., box[0], box[1]]


def build(method: str, task: str, operator, observation, truth, args):
    """``(solver, problem, steps)`` for one cell."""
    if method in RECIPE_METHODS:
        overrides = ([f"solver.params.steps={args.steps}"] if args.steps else []) + args.override
        recipe = invprob.load_recipe(ROOT / "recipes" / f"{RECIPE_METHODS[method]}-{RECIPE_TASK[task]}.yaml", overrides)
        components = invprob.build(recipe, device="cpu")
        generator, priors, losses, solver = components.generator, components.priors, components.losses, components.solver
        steps = recipe.solver.params.get("steps")
    else:
        registry = default_registry()
        context = BuildContext(registry=registry, seed=args.seed)
        generator = registry.build("generators", "dcgan64-faces", {}, context).eval().requires_grad_(False)
        context.image_shape = generator.image_shape
        context.generator = generator
        steps = args.steps or (800 if method == "csgm" else 600)
        if method == "csgm":
            solver = registry.build("solvers", "csgm", {"steps": steps, "lr": 0.1, "restarts": 1}, context)
            losses, priors = [WeightedLoss(1.0, registry.build("losses", "mse", {}, context))], []
        else:
            priors = [
                registry.build("priors", "discriminator", {"lam": 0.003}, context),
                registry.build("priors", "box", {}, context),
            ]
            if task == "inpaint":
                solver = registry.build("solvers", "yeh", {"steps": steps, "lr": 0.01, "restarts": 1}, context)
                losses = [WeightedLoss(1.0, registry.build("losses", "context", {"window": 7}, context))]
            else:
                solver = registry.build("solvers", "csgm", {"steps": steps, "lr": 0.01, "restarts": 1}, context)
                losses = [WeightedLoss(1.0, registry.build("losses", "l1", {}, context))]
    problem = InverseProblem(
        operator=operator, observation=observation, image_shape=(3, 64, 64), generator=generator,
        losses=losses, priors=priors, ground_truth=truth,
    )
    return solver, problem, steps


def report(cells_dir: Path) -> str:
    """Markdown: per task, every method on the faces all its cells share (so methods run on
    different subsets are compared on the same faces), then each cell on all of its faces."""
    cells = {}
    for path in sorted(cells_dir.glob("*.json")):
        cell = json.loads(path.read_text(encoding="utf-8"))
        cells[(cell["method"], cell["task"])] = cell
    methods = [m for m in METHODS if any(m == k[0] for k in cells)]
    header = ["| task | faces | " + " | ".join(METHODS[m] for m in methods) + " |", "|---|---|" + "---|" * len(methods)]
    common_rows, own_rows = [], []
    for task, label in TASKS.items():
        present = [cells[(m, task)] for m in methods if (m, task) in cells]
        if not present:
            continue
        common = set.intersection(*(set(c["names"]) for c in present))
        row_common, row_own = [], []
        for method in methods:
            cell = cells.get((method, task))
            if cell is None:
                row_common.append("-")
                row_own.append("-")
                continue
            picked = torch.tensor([v for n, v in zip(cell["names"], cell["mse_per_image"]) if n in common], dtype=torch.float64)
            row_common.append(f"{picked.mean().item():.4f} / {(-10 * torch.log10(picked)).mean().item():.2f}")
            row_own.append(f"{cell['mse']:.4f} / {cell['psnr']:.2f} ({cell['images']})")
        common_rows.append(f"| {label} | {len(common)} | " + " | ".join(row_common) + " |")
        own_rows.append(f"| {label} | per cell | " + " | ".join(row_own) + " |")
    lines = ["Every method on the same faces (those all of a task's cells share):", "", *header, *common_rows, "",
             "Each cell on all the faces it ran on (face count in brackets):", "", *header, *own_rows, "",
             "Steps / seconds per cell (its faces in one batch, 1 thread, shared CPU under load):", ""]
    for (method, task), cell in sorted(cells.items()):
        lines.append(f"- {METHODS[method]}, {TASKS[task]}: {cell['steps']} steps, {cell['images']} faces, {cell['seconds']:.0f} s; `{cell['command']}`")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
