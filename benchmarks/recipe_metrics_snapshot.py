"""Snapshot every shipped recipe's results on a few steps, to prove a refactoring changed nothing.

    python benchmarks/recipe_metrics_snapshot.py --out before.json           # on the old commit
    python benchmarks/recipe_metrics_snapshot.py --out after.json --compare before.json

Each recipe runs as ``tests/test_example_recipes.py`` runs it (3 steps, 1 restart, the last two
images, PSNR/SSIM/MSE) on one thread, so the arithmetic is the same from run to run. The snapshot
keeps each recipe's per-image metrics and the sha256 of its reconstructions; ``--compare`` prints
each recipe as identical or what differs (a metric only the new snapshot has is listed, not
compared), and exits 1 if anything differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import warnings
from pathlib import Path

import torch
import yaml

import invprob

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
STYLEGAN2_FIXTURE = SHARED / "fixtures" / "stylegan2" / "checkpoint.pt"


def overrides_for(raw: dict) -> list[str]:
    """The few-step overrides the example-recipe test uses."""
    overrides = ["solver.params.steps=3", "solver.params.restarts=1", "metrics=[psnr, ssim, mse]"]
    if raw["data"].get("select"):
        overrides.append("data.select='-2:'")
    if raw.get("generator", {}).get("type") == "stylegan2":
        overrides.append(f"generator.params.checkpoint={STYLEGAN2_FIXTURE}")
    return overrides


def snapshot(recipe: Path, out: Path) -> dict:
    raw = yaml.safe_load(recipe.read_text())
    if "shared" in json.dumps(raw) and not SHARED.is_dir():
        return {"skipped": "reads ../shared, which is absent"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = invprob.run(recipe, overrides_for(raw), out=out, show_progress=False)
    pixels = result.reconstructions.detach().cpu().contiguous().numpy().tobytes()
    return {
        "reconstructions_sha256": hashlib.sha256(pixels).hexdigest(),
        "images": result.metrics.get("images"),
        "mean": result.metrics.get("mean"),
    }


def _without_new_metrics(before: dict, after: dict, added: set[str]) -> dict:
    """``after`` without the metric keys ``before`` lacks (a new metric is not a change), noting them."""
    kept = dict(after)
    if isinstance(before.get("mean"), dict) and isinstance(after.get("mean"), dict):
        added.update(f"mean.{k}" for k in set(after["mean"]) - set(before["mean"]))
        kept["mean"] = {k: v for k, v in after["mean"].items() if k in before["mean"]}
    old, new = before.get("images"), after.get("images")
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        added.update(f"image.{k}" for b, a in zip(old, new) for k in set(a) - set(b))
        kept["images"] = [{k: v for k, v in a.items() if k in b} for b, a in zip(old, new)]
    return kept


def differences(before: dict, after: dict) -> tuple[list[str], set[str]]:
    """What differs between two snapshots, and the metric keys only ``after`` has."""
    lines, added = [], set()
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            lines.append(f"{name}: only in {'after' if name in after else 'before'}")
            continue
        kept = _without_new_metrics(before[name], after[name], added)
        if before[name] != kept:
            keys = [k for k in set(before[name]) | set(kept) if before[name].get(k) != kept.get(k)]
            lines.append(f"{name}: differs in {', '.join(sorted(keys))}")
    return lines, added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the snapshot (JSON)")
    parser.add_argument("--compare", type=Path, help="an earlier snapshot to compare with")
    parser.add_argument("--only", nargs="*", help="recipe names (stems) to run; all by default")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    recipes = sorted((REPO / "recipes").glob("*.yaml"))
    if args.only:
        recipes = [r for r in recipes if r.stem in args.only]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, recipe in enumerate(recipes, 1):
            try:
                results[recipe.stem] = snapshot(recipe, Path(tmp) / recipe.stem)
            except Exception as error:  # a failing recipe is a result to compare too
                results[recipe.stem] = {"error": f"{type(error).__name__}: {error}"}
            print(f"[{i}/{len(recipes)}] {recipe.stem}: {results[recipe.stem].get('reconstructions_sha256', results[recipe.stem])}", flush=True)
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True, default=str))
    if args.compare is None:
        return 0
    lines, added = differences(json.loads(args.compare.read_text()), json.loads(args.out.read_text()))
    print("\n".join(lines) if lines else f"all {len(results)} recipes identical to {args.compare}")
    if added:
        print(f"(metrics only the new snapshot has, not compared: {', '.join(sorted(added))})")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
