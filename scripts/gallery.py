"""Build the documentation gallery (``docs/gallery/``) from a run of its study.

From the repository root, with ``../shared`` beside the checkout::

    invprob study run docs/gallery/gallery.yaml --out ../gallery-runs   # every cell: the recipes as shipped
    python scripts/gallery.py ../gallery-runs/gallery                   # images, results.json, the pages
    python scripts/gallery.py                                           # the pages again, from results.json
    python scripts/gallery.py --rerun lcm-inpaint glo-inpaint           # only these entries, run again

With a study directory it first *collects*: for every recipe of the study, its run's labelled
grid (``grid.png``: observation, reconstruction, ground truth, each image's PSNR) downsized and
quantised to ``docs/gallery/images/<recipe>.png``, and its numbers (the mean of every metric the
run reports over its images, the cell's seconds) into ``docs/gallery/results.json``. Then it
writes the pages (one per paper, one per task, the index) from ``results.json``, the recipe
files and the text below -- nothing else -- so the committed pages are a function of committed
inputs: ``tests/test_gallery.py`` regenerates them byte for byte, and fails when a shipped
recipe is neither in the study nor in :data:`NOT_RUN`, or when a recipe has changed since the
gallery ran it. ``--rerun NAME ...`` brings such entries up to date without the whole study: it
runs a copy of the study cut to those recipes (same overrides, same cases) in a new folder and
collects only their entries into ``results.json``, the others kept as they are.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
GALLERY = REPO / "docs" / "gallery"
STUDY_PATH = "docs/gallery/gallery.yaml"
STUDY_FILE = REPO / STUDY_PATH
RESULTS_FILE = "results.json"
IMAGE_WIDTH = 480
"""Width in pixels of a committed grid (the run's is about 850): the labels stay readable."""
IMAGE_COLOURS = 128
"""Colours of a committed grid's palette: a grid of three faces takes 40-100 kB."""
IMAGE_BUDGET = 3_000_000
"""The most bytes all the gallery's images may take together."""

NOT_RUN: dict[str, str] = {
    "ilo-cs-circulant-stylegan2": "needs a StyleGAN2 checkpoint, which `../shared` does not have",
    "ilo-denoise-stylegan2": "needs a StyleGAN2 checkpoint, which `../shared` does not have",
    "ilo-inpaint-stylegan2": "needs a StyleGAN2 checkpoint, which `../shared` does not have",
    "ilo-superres-stylegan2": "needs a StyleGAN2 checkpoint, which `../shared` does not have",
    "pulse-superres-stylegan2": "needs a StyleGAN2 checkpoint, which `../shared` does not have",
}
"""The shipped recipes the gallery does not run, and why; every other recipe is in the study."""


# -- what a recipe is: method, task, page --------------------------------------------------


PAPERS = {
    "ilo-csgm-pulse": "ILO, CSGM and PULSE",
    "lcm-glo-dip": "LCM, GLO and DIP",
    "yeh": "Yeh et al.: semantic inpainting",
}
TASKS = {
    "inpainting": "Inpainting",
    "super-resolution": "Super-resolution",
    "denoising": "Denoising",
    "compressed-sensing": "Compressed sensing",
    "colorization": "Colorization",
    "jpeg": "JPEG restoration",
}
TASK_OF_OPERATOR = {
    "inpaint-center": "inpainting",
    "inpaint-random": "inpainting",
    "downsample": "super-resolution",
    "denoise": "denoising",
    "cs-circulant": "compressed-sensing",
    "colorize": "colorization",
    "jpeg": "jpeg",
}
"""The task page of each operator; an operator with none (the MNIST classifier) is on its paper's page only."""
PAPER_OF_METHOD = {
    "CSGM": "ilo-csgm-pulse", "ILO": "ilo-csgm-pulse", "PULSE": "ilo-csgm-pulse", "Yeh et al.": "yeh",
    "DIP": "lcm-glo-dip", "GLO": "lcm-glo-dip", "LCM": "lcm-glo-dip", "LCM, z at test time": "lcm-glo-dip",
}  # fmt: skip
GENERATORS = {
    "dcgan64-faces": "the embedded 64×64 face DCGAN",
    "dcgan32-celeba": "the 32×32 CelebA DCGAN (`../shared/weights`)",
    "stylegan2": "a StyleGAN2 checkpoint of your own",
    "mnist-gan-mlp": "the MNIST MLP GAN (`../shared/weights`)",
    "lcm-hourglass": "the project's trained 64 px hourglass",
}


@dataclass(frozen=True)
class Recipe:
    """A shipped recipe as the gallery shows it."""

    name: str
    data: dict[str, Any]
    command: str

    @classmethod
    def read(cls, path: Path) -> Recipe:
        text = path.read_text(encoding="utf-8")
        commands = [line.lstrip("# ").strip() for line in text.splitlines() if line.lstrip("# ").startswith("invprob run ")]
        if not commands:
            raise SystemExit(f"{path}: its opening comment shows no `invprob run` command")
        return cls(path.stem, yaml.safe_load(text), commands[0].split("  #")[0].strip())

    def component(self, section: str) -> dict[str, Any]:
        value = self.data.get(section)
        return value if isinstance(value, dict) else {}

    @property
    def method(self) -> str:
        solver = self.component("solver").get("type")
        if solver == "lcm":
            model = self.component("generator").get("params", {}).get("model", "")
            if model.startswith("glo"):
                return "GLO"
            manifold = any(p.get("type") == "conv-manifold" for p in self.data.get("priors") or [])
            return "LCM" if manifold else "LCM, z at test time"
        names = {"csgm": "CSGM", "ilo": "ILO", "pulse": "PULSE", "yeh": "Yeh et al.", "dip": "DIP"}
        if solver not in names:
            raise SystemExit(f"recipes/{self.name}.yaml: solver {solver!r} is on no gallery page; add it to scripts/gallery.py")
        return names[solver]

    @property
    def paper(self) -> str:
        return PAPER_OF_METHOD[self.method]

    @property
    def operator(self) -> str:
        return str(self.component("operator").get("type"))

    @property
    def task(self) -> str | None:
        if self.operator not in TASK_OF_OPERATOR and self.operator != "classifier":
            raise SystemExit(f"recipes/{self.name}.yaml: operator {self.operator!r} is on no gallery page; add it to scripts/gallery.py")
        return TASK_OF_OPERATOR.get(self.operator)

    @property
    def task_title(self) -> str:
        params = self.component("operator").get("params") or {}
        titles = {
            "inpaint-center": lambda: "centre inpainting"
            + (f", a {params['size']}×{params['size']} hole" if "size" in params
               else f", a hole {params.get('fraction', 0.5):.0%} of each side"),
            "inpaint-random": lambda: f"random inpainting, {params['observed']:.0%} of the pixels observed",
            "downsample": lambda: f"super-resolution ×{params['factor']} ({params.get('method', 'bicubic')})",
            "denoise": lambda: f"denoising, σ = {params['sigma']} (0-255)",
            "cs-circulant": lambda: f"compressed sensing, m = {params['fraction']:.0%} of n (partial circulant)",
            "colorize": lambda: "colorization (grey = the channels' mean)",
            "jpeg": lambda: f"JPEG restoration, quality {params['quality']}",
            "classifier": lambda: "classifier guidance on MNIST: a 7 to be read as a 3",
        }  # fmt: skip
        return titles[self.operator]()

    @property
    def generator(self) -> str:
        generator = self.component("generator")
        if not generator:
            return "none (a fresh network per image)"
        name = GENERATORS.get(generator.get("type"), f"`{generator.get('type')}`")
        model = (generator.get("params") or {}).get("model")
        return f"{name} (`{model}`)" if model else name

    @property
    def selects(self) -> bool:
        """Whether its data is an image set that ``data.select`` picks from (not one image or
        one observation), so that the gallery ran the last faces of it."""
        return "select" in (self.data.get("data") or {})

    def summary(self) -> str:
        """One line: the components as the recipe sets them."""
        parts = [f"generator: {self.generator}"]
        for section in ("operator", "solver"):
            component = self.component(section)
            parts.append(f"{section} `{component.get('type')}`" + _params(component.get("params")))
        for section in ("losses", "priors"):
            items = self.data.get(section)
            if items is None:
                parts.append(f"{section}: the solver's defaults")
            else:
                listed = ", ".join(f"`{i.get('type')}`" + _params(i.get("params"), i.get("weight")) for i in items)
                parts.append(f"{section}: {listed or 'none'}")
        return "; ".join(parts)

    def fingerprint(self) -> str:
        """sha256 of the recipe's content (its comments aside): what the gallery ran."""
        return hashlib.sha256(json.dumps(self.data, sort_keys=True, default=str).encode()).hexdigest()


def _params(params: Mapping[str, Any] | None, weight: Any = None) -> str:
    shown = dict(params or {})
    if weight is not None:
        shown = {"weight": weight, **shown}
    if not shown:
        return ""
    return " (" + ", ".join(f"{k}: {_flow(v)}" for k, v in shown.items()) + ")"


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()


def shipped_recipes(repo: Path = REPO) -> dict[str, Recipe]:
    """Every ``recipes/*.yaml`` by name."""
    return {path.stem: Recipe.read(path) for path in sorted((repo / "recipes").glob("*.yaml"))}


def study_recipes(study_file: Path = STUDY_FILE) -> list[str]:
    """The recipes the gallery study runs, by name, in its order (its ``recipe`` axis)."""
    study = yaml.safe_load(study_file.read_text(encoding="utf-8"))
    for group in study.get("axes") or []:
        if "recipe" in (group.get("vary") or {}):
            return [Path(value).stem for value in group["vary"]["recipe"]]
    raise SystemExit(f"{study_file}: no axis varies 'recipe'")


# -- collect: the study's results and grids ------------------------------------------------


def collect(
    study_dir: Path, gallery: Path = GALLERY, repo: Path = REPO, *, only: Sequence[str] | None = None
) -> dict[str, Any]:
    """Read a run of the gallery study; write each recipe's grid to ``images/`` and return
    what :func:`write_pages` needs (also written to ``results.json``).

    Every recipe of the study must have a done cell: a gallery with holes is refused, naming
    the cells still to run. With ``only``, the run is of those recipes alone (:func:`rerun`):
    their entries replace theirs in the committed ``results.json``, every other entry, image,
    machine and wall time stays as it was.
    """
    from invprob_studies.report import read_results

    study = read_results(study_dir)
    recipes = shipped_recipes(repo)
    wanted = list(only) if only is not None else study_recipes(gallery / STUDY_FILE.name)
    cells = {cell.label("recipe"): cell for cell in study.cells}
    missing = [name for name in wanted if name not in cells or cells[name].status != "done"]
    if missing:
        raise SystemExit(f"{study_dir}: no done cell for {', '.join(missing)}; run the study to the end first")
    (gallery / "images").mkdir(parents=True, exist_ok=True)
    entries: dict[str, Any] = {}
    for name in wanted:
        cell = cells[name]
        assert cell.run_dir is not None and cell.seconds is not None
        run = json.loads((cell.run_dir / "metrics.json").read_text(encoding="utf-8"))
        images = [image["name"] for image in run["images"]]
        metrics = [metric for metric in study.metrics if (cell.id, metric) in study.values]
        entries[name] = {
            "cell": cell.id,
            "recipe_sha256": recipes[name].fingerprint(),
            "images": images,
            "seconds": round(cell.seconds, 1),
            "metrics": {metric: _round(study.stat(cell, metric).mean) for metric in metrics},
            "psnr": {image: _round(value) for image, value in study.values.get((cell.id, "psnr"), {}).items()},
            "unavailable": sorted(run.get("unavailable") or {}),
        }
        write_image(cell.run_dir / "grid.png", gallery / "images" / f"{name}.png")
    if only is not None:
        for entry in entries.values():
            entry["rerun"] = True  # its cell is one of a study cut to the recipes run again
        results = json.loads((gallery / RESULTS_FILE).read_text(encoding="utf-8"))
        entries = {**results["recipes"], **entries}
        results.update(recipes=entries, cell_seconds=round(sum(entry["seconds"] for entry in entries.values()), 0))
    else:
        for stale in (gallery / "images").glob("*.png"):
            if stale.stem not in wanted:  # a recipe the study no longer runs
                stale.unlink()
        first = cells[wanted[0]].run_dir
        assert first is not None
        environment = json.loads((first / "environment.json").read_text(encoding="utf-8"))
        results = {
            "study": STUDY_PATH,
            "wall_seconds": round(wall_seconds(study_dir), 0),
            "cell_seconds": round(sum(entry["seconds"] for entry in entries.values()), 0),
            "machine": f"{environment['cpu']['model']}, {environment['cpu']['logical_cores']} cores; torch {environment['torch']}",
            "recipes": entries,
        }
    (gallery / RESULTS_FILE).write_text(json.dumps(results, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return results


def subset_study(names: Sequence[str], study_file: Path = STUDY_FILE) -> str:
    """The gallery study cut to the recipes ``names`` (its overrides and cases kept), its recipe
    paths made absolute so that it runs from any folder."""
    unknown = [name for name in names if name not in study_recipes(study_file)]
    if unknown:
        raise SystemExit(f"not in {STUDY_PATH}: {', '.join(unknown)} (its recipes: {', '.join(study_recipes(study_file))})")
    study = yaml.safe_load(study_file.read_text(encoding="utf-8"))
    for group in study["axes"]:
        if "recipe" in (group.get("vary") or {}):
            paths = [(study_file.parent / value).resolve() for value in group["vary"]["recipe"]]
            group["vary"]["recipe"] = [str(path) for path in paths if path.stem in names]
    cases = [case for case in study.get("cases") or [] if case.get("when", {}).get("recipe", names[0]) in names]
    if "cases" in study:
        study["cases"] = cases
    return yaml.safe_dump(study, sort_keys=False)


def rerun(names: Sequence[str], out: Path, gallery: Path = GALLERY) -> dict[str, Any]:
    """Run the gallery's cells of ``names`` again into a new folder under ``out`` and collect
    their entries alone (:func:`collect` with ``only``)."""
    import subprocess
    import tempfile

    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="gallery-rerun-", dir=out))  # never an earlier run's folder
    study_file = folder / "gallery.yaml"
    study_file.write_text(subset_study(names, gallery / STUDY_FILE.name), encoding="utf-8")
    print(f"running {', '.join(names)} into {folder}", flush=True)
    command = [sys.executable, "-m", "invprob", "study", "run", str(study_file), "--out", str(folder)]
    if subprocess.run(command, check=False).returncode != 0:
        raise SystemExit(f"the study of {', '.join(names)} did not finish: see {folder}; nothing was collected")
    name = yaml.safe_load(study_file.read_text(encoding="utf-8"))["name"]
    return collect(folder / name, gallery, only=names)


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


def wall_seconds(study_dir: Path) -> float:
    """The time some ``study run`` of the study was running: the union of its sessions."""
    spans = []
    for line in (study_dir / "sessions.jsonl").read_text(encoding="utf-8").splitlines():
        session = json.loads(line)
        spans.append((datetime.fromisoformat(session["started"]), datetime.fromisoformat(session["finished"])))
    total, end = 0.0, None
    for start, finish in sorted(spans):
        if end is None or start > end:
            total += (finish - start).total_seconds()
            end = finish
        elif finish > end:
            total += (finish - end).total_seconds()
            end = finish
    return total


def write_image(source: Path, target: Path) -> None:
    """``source`` (a run's ``grid.png``) at most :data:`IMAGE_WIDTH` pixels wide with a palette of
    :data:`IMAGE_COLOURS` colours: the same bytes for the same grid."""
    from PIL import Image

    with Image.open(source) as opened:
        image = opened.convert("RGB")
    width = min(IMAGE_WIDTH, image.width)
    small = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    palette = small.quantize(colors=IMAGE_COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    palette.save(buffer, "PNG", optimize=True)
    target.write_bytes(buffer.getvalue())


# -- the pages -----------------------------------------------------------------------------


def write_pages(results: Mapping[str, Any], gallery: Path = GALLERY, repo: Path = REPO) -> list[Path]:
    """Write the index, one page per paper and one per task from ``results`` (what
    :func:`collect` returned) and the recipes; return the paths written."""
    pages = render_pages(results, shipped_recipes(repo), study_recipes(gallery / STUDY_FILE.name))
    written = []
    for name, text in pages.items():
        path = gallery / f"{name}.md"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def render_pages(results: Mapping[str, Any], recipes: Mapping[str, Recipe], study: Sequence[str]) -> dict[str, str]:
    """``{page name: Markdown}``: the index, the paper pages and the task pages."""
    stale = [n for n in study if n in results["recipes"] and results["recipes"][n]["recipe_sha256"] != recipes[n].fingerprint()]
    if stale:
        raise SystemExit(f"recipes changed since the gallery ran them: {', '.join(stale)}; run them again: python scripts/gallery.py --rerun {' '.join(stale)}")
    absent = [n for n in study if n not in results["recipes"]]
    if absent:
        raise SystemExit(f"{RESULTS_FILE} has no results for {', '.join(absent)}; collect a run of the whole study")
    unknown = [row.recipe for rows in ELSEWHERE.values() for row in rows if row.recipe not in recipes]
    if unknown:
        raise SystemExit(f"ELSEWHERE names recipes that are not shipped: {', '.join(unknown)}")
    shown = [recipes[n] for n in study] + [recipes[n] for n in NOT_RUN]
    pages = {"index": render_index(results, recipes, study)}
    for page, title in PAPERS.items():
        entries = sorted(
            (r for r in shown if r.paper == page),
            key=lambda r: (METHOD_ORDER.index(r.method), r.name in NOT_RUN, r.task or "~", r.name),
        )
        pages[page] = render_page(page, title, entries, results, by="method")
    for page, title in TASKS.items():
        entries = sorted(
            (r for r in shown if r.task == page),
            key=lambda r: (r.operator, task_group(r), r.name in NOT_RUN, METHOD_ORDER.index(r.method), r.name),
        )
        pages[page] = render_page(page, title, entries, results, by="operator")
    return pages


METHOD_ORDER = ["CSGM", "ILO", "PULSE", "Yeh et al.", "DIP", "GLO", "LCM", "LCM, z at test time"]


def render_page(page: str, title: str, entries: Sequence[Recipe], results: Mapping[str, Any], *, by: str) -> str:
    lines = [f"# {title}", "", PAGE_TEXT[page].strip(), "", HOW_TO_READ, ""]
    headings = [recipe.method if by == "method" else task_group(recipe) for recipe in entries]
    group = None
    for recipe, heading in zip(entries, headings):
        if heading != group and len(set(headings)) > 1:
            lines += [f"## {heading}", ""]
        group = heading
        lines += render_entry(recipe, results, by=by)
    if page in ELSEWHERE:
        lines += render_elsewhere(ELSEWHERE[page], results, COMPARED_TEXT[page])
    else:
        papers = ", ".join(f"[{title}]({name}.md)" for name, title in PAPERS.items())
        lines += [f"How these numbers compare with the papers' and the committed benchmarks: on the paper pages ({papers}).", ""]
    lines += [MADE_BY.format(**_made(results)).strip(), ""]
    return "\n".join(lines)


def render_elsewhere(rows: Sequence[Elsewhere], results: Mapping[str, Any], text: str) -> list[str]:
    """The section that sets the entries' numbers beside the papers' and the committed ones."""
    lines = [
        "## Against the papers and the committed results", "",
        "| entry | metric | here | there | there: where, and what differs |", "|---|---|---|---|---|",
    ]  # fmt: skip
    for row in (row for row in rows if row.recipe in results["recipes"]):
        entry = results["recipes"][row.recipe]
        here = format_metric(row.metric, entry["metrics"].get(row.metric))
        count = len(entry["images"])
        lines.append(
            f"| `{row.recipe}` | {METRIC_NAMES.get(row.metric, row.metric.upper())} | {here} ({count} faces) | "
            f"{format_metric(row.metric, row.value)} | {row.source}: {row.differs} |"
        )
    return [*lines, "", *([text.strip(), ""] if text.strip() else [])]


def task_group(recipe: Recipe) -> str:
    """The heading of a task page's group: the task without its parameters (``Centre inpainting``)."""
    return recipe.task_title.split(",")[0].capitalize()


def render_entry(recipe: Recipe, results: Mapping[str, Any], *, by: str) -> list[str]:
    # on a task page the group's heading names the task; the entry adds its parameters, if any
    title = recipe.task_title if by == "method" else ", ".join([recipe.method, *recipe.task_title.split(", ")[1:]])
    lines = [f"### {title[0].upper() + title[1:]} — {recipe.name}", "", f"Recipe `recipes/{recipe.name}.yaml`: {recipe.summary()}.", ""]
    if recipe.name in NOT_RUN:
        return lines + [
            f"*Not run for this gallery: it {NOT_RUN[recipe.name]}.* It runs with", "",
            "```bash", recipe.command, "```", "",
        ]  # fmt: skip
    entry = results["recipes"][recipe.name]
    select = json.dumps(SELECT) if recipe.selects else None
    shown = sorted((m for m in entry["metrics"] if m != "psnr"), key=lambda m: (list(METRIC_NAMES) + [m]).index(m))
    numbers = [f"**{METRIC_NAMES.get(m, m)}** {format_metric(m, entry['metrics'][m])}" for m in shown]
    count = len(entry["images"])
    seconds = entry["seconds"] / count
    psnr = entry["metrics"].get("psnr")
    head = [f"**PSNR {psnr:.2f} dB**"] if psnr is not None else []
    if len(entry["psnr"]) > 1:
        head.append("(" + ", ".join(f"{value:.2f}" for value in entry["psnr"].values()) + ")")
    side = "<br>".join(
        [f"mean over {count} image{'s' if count != 1 else ''}:" if count != 1 else "1 image:", *head, *numbers,
         f"**time** {seconds:.0f} s per image"]
    )  # fmt: skip
    lines += [
        "| observation · reconstruction · ground truth | numbers |",
        "|---|---|",
        f"| ![{recipe.name}: observation, reconstruction, ground truth](images/{recipe.name}.png) | {side} |",
        "",
    ]
    if recipe.name in NOTES:
        lines += [NOTES[recipe.name].strip(), ""]
    command = f"invprob run recipes/{recipe.name}.yaml" + (f" 'data.select={select}'" if select else "")
    study = "a `--rerun` of the gallery study" if entry.get("rerun") else "the gallery study"
    lines += [f"This entry (cell `{entry['cell']}` of {study}) is reproduced by", "", "```bash", command, "```", ""]
    return lines


SELECT = "-3:"
"""The gallery study's ``data.select``: the last images of each recipe's own set."""

METRIC_NAMES = {
    "psnr": "PSNR", "psnr_missing": "PSNR of the missing pixels", "ssim": "SSIM", "mse": "MSE",
    "mse_missing": "MSE of the missing pixels", "lpips": "LPIPS", "measurement_loss": "measurement loss",
}  # fmt: skip
"""How the pages name the metrics, in the order they list them (others after, by name)."""


def format_metric(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    if metric == "ssim":
        return f"{value:.3f}"
    if metric.startswith("psnr"):
        return f"{value:.2f} dB"
    return f"{value:.3g}"


def _made(results: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "study": results["study"],
        "wall": results["wall_seconds"] / 60,
        "cells": results["cell_seconds"] / 60,
        "machine": results["machine"],
        "count": len(results["recipes"]),
    }


HOW_TO_READ = """\
Each entry is a shipped recipe, run as shipped on the last three of its own held-out
faces: one row per face, with the observation, the reconstruction and the ground truth, and
the reconstruction's PSNR. Beside it, the means over those faces and the seconds per face;
under it, the recipe and the command that reproduces the entry (drop `data.select` to run
the recipe's 8 faces)."""

MADE_BY = """\
---

*Made by the gallery study ([how](index.md#how-the-gallery-is-made)): {count} recipes, {wall:.0f} min
of wall time ({cells:.0f} min of cell time) on {machine}.*
"""

PAGE_TEXT: dict[str, str] = {
    "ilo-csgm-pulse": """\
CSGM (Bora et al., 2017) searches the latent space of a pretrained generator for the image
whose measurements match; PULSE (Menon et al., 2020) does so on a sphere, for
super-resolution; ILO (Daras et al., ICML 2021) then goes deeper, optimising the intermediate
layers in l1 balls around the previous solution. Here all three use the embedded 64×64 face
DCGAN (CSGM also the 32×32 one), on every task the recipes ship; the StyleGAN2 recipes of the
paper's own setting need a checkpoint (their entries say how to run them).
""",
    "lcm-glo-dip": """\
LCM (Athar et al., ICLR 2019) restores an image by fitting the parameters of a small
convolutional network that produces the latent of a trained generator; GLO optimises that
latent itself; DIP (Ulyanov et al., CVPR 2018) fits a fresh network to each image with no
training at all. The LCM and GLO models are the project's own, trained on 64 px CelebA faces.
""",
    "yeh": """\
Semantic inpainting (Yeh et al., CVPR 2017): the generator's latent is fitted to the observed
pixels with a context loss that weighs each pixel by how many of its neighbours are missing,
plus a discriminator prior, and the result is Poisson-blended into the observation.
""",
    "inpainting": "Filling missing pixels: a centre hole (where the face must be invented) and random pixels.",
    "super-resolution": "A ×4 downsampled face (16×16) restored to 64×64.",
    "denoising": "A face with Gaussian noise of σ = 25 on the 0-255 scale.",
    "compressed-sensing": "Random partial circulant measurements, m = 10% of n: the observation has no image form (shown through the adjoint).",
    "colorization": "A grey face (the mean of the channels) given its colours back.",
    "jpeg": "A face saved as JPEG at quality 10, its blocks and ringing removed.",
}
"""The opening of each page: what the method or task is."""

NOTES: dict[str, str] = {
    "demo": """\
The README's first command: one image of its own (`recipes/images/astronaut-face64.png`, not
a CelebA face), with a centre hole 40% of each side.
""",
    "ilo-classifier-mnist": """\
MNIST, not faces: the operator is a LeNet-5 classifier and the observation the log-probabilities
wanted (0.991 for a 3). The start is a GAN sample read as a 7; the grid shows the digit after
ILO's round in the hidden layer (radius 20); the measurement loss is the MSE between the
classifier's log-probabilities and the target's. `benchmarks/studies/ilo-classifier-radius.yaml`
runs it for every radius.
""",
}
"""A note under an entry, where the recipe is not like the others."""



@dataclass(frozen=True)
class Elsewhere:
    """A number of a paper or of ``benchmarks/results/`` that a gallery entry can be read against."""

    recipe: str
    metric: str
    value: float
    source: str
    differs: str
    """What the other number's protocol does differently, which is why the numbers differ."""


_ILO20 = "`benchmarks/results/ilo_table_dcgan64_8faces_issue20.md`"
_YEH = "Yeh et al., Table 1 (CelebA, centre)"
_LCM = "Athar et al., Table 1 (CelebA)"
_LCM21 = "`benchmarks/results/lcm_table_issue21.md`"
ELSEWHERE: dict[str, list[Elsewhere]] = {
    "ilo-csgm-pulse": [
        Elsewhere("csgm-inpaint-dcgan64", "psnr", 21.80, _ILO20, "8 faces (these 3 among them); 400 Adam steps, not 800"),
        Elsewhere("csgm-superres-dcgan64", "psnr", 21.37, _ILO20, "8 faces (these 3 among them); 400 Adam steps, not 800"),
        Elsewhere("csgm-denoise-dcgan64", "psnr", 22.22, _ILO20, "8 faces (these 3 among them); 400 Adam steps, not 800"),
        Elsewhere("ilo-inpaint-dcgan64", "psnr", 25.98, _ILO20, "8 faces; 4 rounds of 100 steps, not 300/200/200/100"),
        Elsewhere("ilo-denoise-dcgan64", "psnr", 27.23, _ILO20, "8 faces; 4 rounds of 100 steps, not 300/200/200/100"),
        Elsewhere("ilo-superres-dcgan64", "psnr", 24.12, _ILO20, "8 faces; 4 rounds of 100 steps, not 300/200/200/100"),
        Elsewhere("pulse-superres-dcgan64", "psnr", 21.21, _ILO20, "the same recipe on its 8 faces, these 3 among them"),
        Elsewhere("csgm-inpaint-dcgan32", "psnr", 22.12, "`benchmarks/results/inpainting_table_dcgan32.md`",
                  "64 faces; 1500 steps at lr 0.1 from one start, no z-prior (the recipe: 500 at 0.05, best of 4, Bora's z-prior)"),
    ],
    "yeh": [
        Elsewhere("yeh-inpaint-dcgan32", "psnr", 26.61, "`benchmarks/results/inpainting_table_dcgan32.md`",
                  "64 faces, one start (the recipe: best of 4 starts)"),
        Elsewhere("yeh-inpaint-dcgan32", "psnr", 19.4, _YEH,
                  "the paper's DCGAN at 64 px (this recipe's is 32 px, its discriminator least-squares), "
                  "~2,000 test faces, a centre block of unstated size"),
        Elsewhere("yeh-inpaint-dcgan64", "psnr", 25.96, "`benchmarks/results/inpainting_table_dcgan64_final_others.md`",
                  "64 faces; 500 steps from one start (the recipe: 1500, best of 4)"),
        Elsewhere("yeh-inpaint-dcgan64", "psnr", 19.4, _YEH, "the paper's DCGAN, trained on ~200k faces, "
                  "~2,000 test faces, a centre block of unstated size"),
    ],
    "lcm-glo-dip": [
        Elsewhere("lcm-inpaint", "mse_missing", 0.0310, _LCM21, "16 other held-out faces (ids 202525-202543)"),
        Elsewhere("glo-inpaint", "mse_missing", 0.0170, _LCM21, "16 other held-out faces (ids 202525-202543)"),
        *[
            Elsewhere(f"{method}-{task}", metric, value, _LCM, "128 px faces, ×8 super-resolution, models trained on ~200k faces")
            for method, task, metric, value in [
                ("lcm", "inpaint", "mse_missing", 0.0034), ("glo", "inpaint", "mse_missing", 0.0038),
                ("dip", "inpaint", "mse_missing", 0.0091), ("lcm", "superres", "mse", 0.0061),
                ("glo", "superres", "mse", 0.0063), ("dip", "superres", "mse", 0.0052),
                ("lcm", "colorize", "mse", 0.0071), ("glo", "colorize", "mse", 0.0069),
                ("dip", "colorize", "mse", 0.0136),
            ]
        ],
    ],
}  # fmt: skip
"""Per paper page, the numbers of the papers and of ``benchmarks/results/`` that its entries
overlap, with what the other protocol does differently."""

COMPARED_TEXT: dict[str, str] = {
    "ilo-csgm-pulse": """\
The committed table ran 8 faces; the gallery runs the last 3 of them, which are harder than the
8 on average: PULSE, the same recipe on both, is 1.1 dB lower here, and the other entries 0.7-0.9
dB lower, ILO's denoising aside (equal). The steps differ too (the committed CSGM ran 400 steps,
the recipes 800, as many as ILO's rounds together; the committed ILO 4 rounds of 100). The order
is the committed table's, and the ILO paper's (whose figures use a StyleGAN2 at 1024 px and give
no number at 64 px to set beside these): ILO above CSGM on every task, by 3-6 dB here. PULSE is
below CSGM: it keeps the latent on a sphere and stops at its eps, a prior made for a StyleGAN2's
latent, not for this DCGAN's.
""",
    "yeh": """\
The committed tables, on 64 faces from one start, are within 0.1 dB (32 px) and 0.9 dB (64 px,
500 steps) of the gallery's entries, 3 faces with the recipes' best of 4 starts. The paper's 19.4 dB is far below both: PSNR is taken over the whole
image, where the blended observed pixels are exact, so it depends mostly on the hole's size,
which the paper does not give; over the hole alone the entries score 20.5 dB (32 px) and
19.1 dB (64 px). The paper's point shows in the grids: the hole is filled with a plausible
face, not the true one, so its PSNR against the truth stays low by design.
""",
    "lcm-glo-dip": """\
In the hole, these 3 faces come out 1.5-2 times worse than the 16 of the committed table (GLO
0.034 against 0.017, LCM 0.048 against 0.031), in the same order, GLO ahead of LCM; DIP, at the
recipe's 1000 steps, lands between them. The paper found the reverse, LCM ahead of GLO: the
committed table shows that at 300 steps LCM is ahead here too, while at the authors' 3001
steps its parameters keep fitting the observed pixels and the hole drifts. Where every pixel is
seen through the operator, LCM is ahead of GLO (super-resolution 0.0041 against 0.0046,
colorization 0.0053 against 0.0071; the paper: slightly ahead, and level), DIP level with LCM on
super-resolution (the paper: ahead of both) and far behind on colorization, which needs a prior
of faces to invent the colours (0.022; the paper's 0.0136). The errors are of the paper's order on those two tasks and 9-14 times the paper's in the
hole for GLO and LCM (4.5 times for DIP, which learns nothing beforehand): our models, trained
on 16k faces on a CPU, fall short most where pixels must be invented.
Without the manifold at test time (LCM, z at test time: the same model, its latent fitted
directly) the hole is worst of all (0.144).
""",
}
"""Per paper page, what the comparison shows, under its table."""


def render_index(results: Mapping[str, Any], recipes: Mapping[str, Recipe], study: Sequence[str]) -> str:
    lines = [
        "# Gallery", "",
        "Every method of invprob on real faces: each entry below is a **shipped recipe**",
        "(`recipes/*.yaml`) run as shipped, with the number of faces lowered to the last three of its",
        "own held-out set (the highest CelebA ids, which no model saw in training). Each shows the",
        "observation, the reconstruction and the ground truth with the PSNR of every face, the mean",
        "numbers over the faces, the time, the recipe and the command that reproduces it. Two",
        "entries are not faces of that set: the README's demo recipe runs its own image, and",
        "`ilo-classifier-mnist` is ILO on MNIST (on the ILO page only).", "",
        "By paper:", "",
        *[f"- [{title}]({page}.md)" for page, title in PAPERS.items()], "",
        "By task:", "",
        *[f"- [{title}]({page}.md)" for page, title in TASKS.items()], "",
        "## Every entry", "",
        "The recipe links to its entry's paper page, the task to its task page.", "",
        "| recipe | method | task | PSNR (dB) | SSIM | s per image |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    order = sorted(study, key=lambda n: (METHOD_ORDER.index(recipes[n].method), recipes[n].operator, n))
    for name in order:
        recipe, entry = recipes[name], results["recipes"][name]
        metrics = entry["metrics"]
        task = f"[{recipe.task_title}]({recipe.task}.md)" if recipe.task else recipe.task_title
        psnr = format_metric("psnr", metrics.get("psnr")).removesuffix(" dB")
        lines.append(
            f"| [`{name}`]({recipe.paper}.md) | {recipe.method} | {task} | {psnr} | "
            f"{format_metric('ssim', metrics.get('ssim'))} | {entry['seconds'] / len(entry['images']):.0f} |"
        )
    lines += ["", "Not run (each page shows the command to run it):", ""]
    lines += [f"- `{name}`: it {why}." for name, why in NOT_RUN.items()]
    missing = sorted({metric for entry in results["recipes"].values() for metric in entry["unavailable"]})
    unavailable = (
        f" Asked for by the recipes but not computed, for want of their weights on this machine: {', '.join(missing)}."
        if missing else ""
    )  # fmt: skip
    lines += ["", INDEX_HOW.format(**_made(results), select=SELECT, unavailable=unavailable).strip(), ""]
    return "\n".join(lines)


INDEX_HOW = """\
## How the gallery is made

One study ([`docs/gallery/gallery.yaml`](gallery.yaml)) has one cell per recipe: its axis
`recipe` gives each cell a shipped recipe file as its base, unchanged but for
`data.select: "{select}"` (the MNIST recipe, whose observation is one target vector, keeps its
own data). From the repository root, with `../shared` beside the checkout:

```bash
invprob study run docs/gallery/gallery.yaml --out ../gallery-runs   # every recipe: about {cells:.0f} min here
python scripts/gallery.py ../gallery-runs/gallery                   # images/, results.json and these pages
python scripts/gallery.py --rerun lcm-inpaint                       # after a recipe changed: its entry alone
```

The script downsizes each run's `grid.png` into `docs/gallery/images/`, writes the numbers
(means over the faces of every metric the run reports, the cell's seconds) to
`docs/gallery/results.json` and the pages from that file and the recipes;
`tests/test_gallery.py` checks that the pages are what the script writes and that every
shipped recipe is in the study or in the not-run list. This gallery: {count} recipes,
{wall:.0f} min of wall time ({cells:.0f} min of cell time, two `study run` processes of one
thread each sharing the study) on {machine}, shared with other work, so the seconds are a
rough guide only.{unavailable}

The faces are CelebA's (Liu et al., ICCV 2015), available for non-commercial research only:
the grids are here to show the methods, not to pass the images on.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study_dir", nargs="?", type=Path, help="a run of docs/gallery/gallery.yaml (<out>/gallery); "
                        "without it, the pages are written from the committed results.json")  # fmt: skip
    parser.add_argument("--rerun", nargs="+", metavar="RECIPE", help="run these recipes' cells again and replace "
                        "their entries alone (after a recipe changed)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=REPO.parent / "gallery-runs",
                        help="where --rerun runs its study (a new folder inside; default: ../gallery-runs)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.rerun and args.study_dir is not None:
        parser.error("give a study directory or --rerun, not both")
    if args.rerun:
        results = rerun(args.rerun, args.out)
    elif args.study_dir is not None:
        results = collect(args.study_dir, GALLERY)
    else:
        results = json.loads((GALLERY / RESULTS_FILE).read_text(encoding="utf-8"))
    for path in write_pages(results, GALLERY):
        print(path)
    total = sum(p.stat().st_size for p in (GALLERY / "images").glob("*.png"))
    print(f"images: {total:,} bytes" + ("" if total <= IMAGE_BUDGET else f", over the budget of {IMAGE_BUDGET:,}"))
    return 0 if total <= IMAGE_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
