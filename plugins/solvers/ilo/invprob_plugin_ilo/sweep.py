"""``invprob sweep ilo-radius``: one ILO run per l1 radius, and what the radius buys.

ILO's radius sets how far a solution may leave the generator's range (paper, sec. 4: "by
choosing the radius of the l1 ball for each layer, we control the trade-off between how
natural ... these images look, and the out-of-distribution generation capability"). This
command runs a recipe whose solver is ``ilo`` once per radius, with
``solver.params.radius_features`` set to that radius for every deeper round, each as an
ordinary run directory ``radius-<r>/`` inside one sweep folder, and then writes there:

- ``sweep.json``: per radius and image, the measurement loss and, for a classifier operator,
  the probability of the target class (below) and of every class;
- ``probability_vs_radius.png`` (a classifier operator) or ``loss_vs_radius.png`` (any other):
  the curve over the radii, above the image each radius gave (first image of the batch).

A classifier operator is recognised by its measurement: one row of log-probabilities per
image (``A(x)`` of shape ``[B, K]`` whose exponentials sum to 1). The target class of an image
is the most probable class of its observation (``recipes/data/target-digit3.npy``: a 3).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``invprob sweep ilo-radius``."""
    parser.add_argument("recipe", type=Path, help="a recipe whose solver is ilo")
    parser.add_argument("overrides", nargs="*", help="recipe overrides such as solver.params.steps=[0,100]")
    parser.add_argument("--radii", type=float, nargs="+", required=True, help="l1 radii of the feature maps (>= 0)")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="folder the sweep folder is created in (default: runs)")
    parser.add_argument("--name", default=None, help="the sweep folder's name (default: <recipe name>-sweep-<timestamp>)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")


def run(args: argparse.Namespace) -> int:
    """Run the sweep; returns the exit code (0)."""
    import time

    import torch

    import invprob
    from invprob.app import outputs
    from invprob.app.components import as_recipe, build
    from invprob.building import InputError
    from invprob.app.execute import load_inputs
    from invprob.registry import default_registry

    if any(r < 0 or not math.isfinite(r) for r in args.radii):
        raise InputError(f"--radii must be finite and >= 0, got {args.radii}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    registry = default_registry()
    recipe = as_recipe(args.recipe, args.overrides, registry)
    if recipe.solver.type != "ilo":
        raise InputError(f"solver.type: sweep ilo-radius sweeps the ilo solver's radius_features; this recipe uses {recipe.solver.type!r}")
    name = args.name or f"{recipe.name}-sweep-{time.strftime('%Y%m%d-%H%M%S')}"
    directory = outputs.new_run_directory(args.out, name)
    components = build(recipe, registry=registry)
    inputs = load_inputs(components)
    observation = inputs.observations
    if observation is None:
        assert inputs.truth is not None
        with torch.no_grad():
            observation = components.operator(inputs.truth, rng=components.context.rng("noise"))
    target = _target_classes(observation)

    rows: list[dict[str, Any]] = []
    first_images = []
    for radius in args.radii:
        label = f"radius-{radius:g}"
        print(f"radius {radius:g}: running {args.recipe} into {directory / label}", flush=True)
        result = invprob.run(
            args.recipe, [*args.overrides, f"solver.params.radius_features={radius}"],
            out=directory, name=label, show_progress=False, registry=registry,
        )
        images = 2 * result.reconstructions - 1  # [0, 1] at the public API; the operator works on [-1, 1]
        first_images.append(images[0].detach().cpu())
        row: dict[str, Any] = {"radius": radius, "run": label, "images": []}
        with torch.no_grad():
            probabilities = components.operator.A(images.to(observation.device)).exp() if target is not None else None
        for index, entry in enumerate(result.metrics["images"]):
            item = {"name": entry["name"], "measurement_loss": entry["measurement_loss"]}
            if probabilities is not None and target is not None:
                item["target_class"] = int(target[index])
                item["target_probability"] = float(probabilities[index, target[index]])
                item["probabilities"] = [round(float(p), 6) for p in probabilities[index]]
            row["images"].append(item)
        rows.append(row)
        summary = ", ".join(
            f"p({i['target_class']}) = {i['target_probability']:.3f}" if "target_probability" in i else f"loss {i['measurement_loss']:.4g}"
            for i in row["images"]
        )
        print(f"radius {radius:g}: {summary}", flush=True)
    outputs.write_json(directory / "sweep.json", {"recipe": str(args.recipe), "overrides": list(args.overrides), "radii": rows})
    plot = directory / ("probability_vs_radius.png" if target is not None else "loss_vs_radius.png")
    plot_sweep(rows, first_images, plot)
    print(f"sweep in {directory}; plot {plot.name}")
    return 0


def _target_classes(observation: Any) -> Any:
    """The most probable class per image when the observation is a row of log-probabilities
    per image (a classifier's measurement), else None."""
    import torch

    if observation.dim() != 2 or observation.shape[1] < 2:
        return None
    total = observation.exp().sum(dim=1)
    if not torch.allclose(total, torch.ones_like(total), atol=1e-3):
        return None
    return observation.argmax(dim=1).tolist()


def plot_sweep(rows: list[dict[str, Any]], images: list[Any], path: Path) -> None:
    """The target-class probability (or the measurement loss) against the radius, one line per
    image, above the first image of every radius."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from invprob.app import outputs

    radii = [row["radius"] for row in rows]
    classifier = "target_probability" in rows[0]["images"][0]
    key = "target_probability" if classifier else "measurement_loss"
    count = len(images)
    figure = plt.figure(figsize=(max(6.0, 0.9 * count), 5.2), dpi=100)
    grid = figure.add_gridspec(2, count, height_ratios=[3, 1])
    axis = figure.add_subplot(grid[0, :])
    for index, first in enumerate(rows[0]["images"]):
        values = [row["images"][index][key] for row in rows]
        label = f"{first['name']}: p(class {first['target_class']})" if classifier else first["name"]
        axis.plot(radii, values, marker="o", label=label)
    axis.set_xlabel("l1 radius of the feature ball (radius_features)")
    axis.set_ylabel("target-class probability" if classifier else "measurement loss")
    if classifier:
        axis.set_ylim(-0.02, 1.02)
    positive = [r for r in radii if r > 0]
    if positive and max(positive) / min(positive) > 20:
        axis.set_xscale("symlog", linthresh=min(positive))  # radius 0 and a wide range on one axis
        axis.set_xlim(left=0)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8)
    for index, (radius, image) in enumerate(zip(radii, images)):
        panel = figure.add_subplot(grid[1, index])
        panel.imshow(((image.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
        panel.set_title(f"r = {radius:g}", fontsize=8)
        panel.axis("off")
    figure.tight_layout()
    with outputs.atomic_path(path) as tmp:
        figure.savefig(tmp)
    plt.close(figure)
