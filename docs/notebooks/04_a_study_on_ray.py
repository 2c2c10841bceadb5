# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A study on Ray, and its report
#
# One run answers "what does this method do to this image". A paper's table answers "which
# method is better, on which task, by how much, over many images": methods × settings × images,
# often with the best of a few hyperparameters. In invprob such a grid is a **study**: one YAML
# file naming a base recipe, the fields to vary and the images. `invprob study run` runs every
# cell of it, in this process or as [Ray](https://docs.ray.io) tasks, resumably; `invprob study
# report` turns the results into tables and plots.
#
# This notebook writes a small study (CSGM against ILO at two super-resolution factors, on three
# images), runs it on a local Ray instance with two workers and shows its report. The
# [studies plugin page](../../plugins/studies/) describes the study file in full, and
# [Studies and their report](../../study-report/) every part of the report.

# %%
import base64
import os
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

work = Path(tempfile.mkdtemp(prefix="invprob-study-"))  # everything this notebook writes goes here


def invprob_cli(*args: str) -> None:
    """Run the `invprob` command of this Python as a terminal would; print its output, stop on failure."""
    done = subprocess.run([sys.executable, "-m", "invprob", *args], capture_output=True, text=True)
    print(done.stdout + done.stderr)
    done.check_returncode()


# %% [markdown]
# ## The base recipe
#
# Every cell of a study is a complete recipe: the base recipe with the cell's fields changed. Ours
# is a 4× super-resolution with the default 64×64 face DCGAN, solved by CSGM. Its images are three
# faces drawn from the generator itself (`data: {samples: 3}`), so that the study runs anywhere;
# for a real comparison give a folder or a zip of your own images (`data: {images: faces/}`), as
# the studies behind the paper tables do (`benchmarks/studies/`).

# %%
recipe_file = work / "superres.yaml"
recipe_file.write_text("""\
version: 1
seed: 0
generator: {type: dcgan64-faces}
operator: {type: downsample, params: {factor: 4}}
solver: {type: csgm, params: {steps: 100, restarts: 1}}
data: {samples: 3}
metrics: [psnr, ssim]
""")
print(recipe_file)

# %% [markdown]
# ## The study file
#
# `axes` lists what varies. The first group is two named **variants**, one per method: each sets
# the fields it names (ILO's solver, with its own step counts and radii). The second **varies** the
# operator's downsampling factor. Groups combine by product: 2 methods × 2 factors = 4 cells, each
# solving the three images. Step counts are small so that the notebook runs quickly; the paper
# studies use hundreds.

# %%
study_file = work / "csgm-vs-ilo.yaml"
study_file.write_text("""\
version: 1
name: csgm-vs-ilo
description: CSGM against ILO on x2 and x4 super-resolution, default 64x64 face DCGAN
recipe: superres.yaml
axes:
  - variants:
      - {label: CSGM, set: {solver: {type: csgm, params: {steps: 100, restarts: 1}}}}
      - {label: ILO, set: {solver: {type: ilo, params: {steps: [60, 20, 20], radius_features: [1000, 2000]}}}}
  - vary:
      operator.params.factor: [2, 4]
""")
invprob_cli("study", "plan", str(study_file))

# %% [markdown]
# ## Running it on Ray
#
# `--engine ray` runs each cell as a Ray task: without `--address` it starts a local Ray instance
# with `--workers` CPUs, here two cells at a time; with `--address HOST:PORT` the same command
# uses a cluster (every node then needs the plugins, and `--out` must be on storage they all see).
# Each cell is recorded the moment it finishes: stop the command and run it again, and it skips
# the cells done. The engine is a plugin too (`pip install 'invprob-studies[ray]'`); without it,
# `--engine local` (the default) runs the cells one after another in this process.

# %%
invprob_cli("study", "run", str(study_file), "--out", str(work / "studies"), "--engine", "ray", "--workers", "2", "--quiet")
study_dir = work / "studies" / "csgm-vs-ilo"
print(sorted(path.name for path in study_dir.iterdir()))

# %% [markdown]
# The study directory holds the plan (`cells.json`), one line per finished cell
# (`cells.jsonl`), the results as a flat table (`results.jsonl`, `results.csv`), one line per
# `study run` (`sessions.jsonl`) and every cell's run directory under `runs/`, as `invprob run`
# writes it. The table is ready for pandas: one row per cell × image × metric.

# %%
results = pd.read_csv(study_dir / "results.csv")
print(len(results), "rows;", ", ".join(results.columns))
psnr = results[results["metric"] == "psnr"]
psnr.pivot_table(index="label:solver", columns="axis:operator.params.factor", values="value", aggfunc="mean").round(2)

# %% [markdown]
# ## The report
#
# `invprob study report` writes `report.html`, one self-contained page (plots and sample images
# inside it: it opens offline and can be mailed; the best entry of each column in bold), and beside
# it `report.md`, its tables of means in Markdown, each entry `mean ± standard error (n)`, the
# form a results file in a repository takes.

# %%
invprob_cli("study", "report", str(study_dir))
report_md = (study_dir / "report.md").read_text()
tables = report_md[report_md.index("\n## ") :].replace("\n## ", "\n#### ")  # the tables, under this page's headings
display(Markdown(tables))


# %% [markdown]
# The page's plots show the metric against each numeric axis, one line per method, with the
# standard error over the images. Here is the one against the downsampling factor, taken out of
# `report.html`:

# %%
class Plots(HTMLParser):
    """The PNG plots of a report page (its ``<img class="plot">`` elements)."""

    def __init__(self):
        super().__init__()
        self.pngs = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img" and attrs.get("class") == "plot":
            self.pngs.append(base64.b64decode(attrs["src"].split(",", 1)[1]))


plots = Plots()
plots.feed((study_dir / "report.html").read_text())
for png in plots.pngs:
    display(Image(png))

# %% [markdown]
# ## Where next
#
# - Options of the report: `--best-of solver.params.lr` (ILO's best-of-N over a hyperparameter),
#   `--metric`, `--method`, `--samples` ([Studies and their report](../../study-report/)).
# - The studies that reproduce the papers' tables run exactly like this one, on held-out CelebA
#   faces: `invprob study run benchmarks/studies/yeh-table1.yaml --engine ray --workers 2`.
# - From Python: `invprob_studies.load_study` and `invprob_studies.run_study`, and engines of your
#   own (a Slurm queue, say) through the `invprob_register_study_engines` hook.
