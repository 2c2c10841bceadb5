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
# # Your first inverse problem
#
# An *inverse problem* asks for an image $x$ when all you have is a measurement $y = A(x)$ (+ noise)
# that lost information: a low-resolution copy, a photo with a hole, a handful of random
# projections. A deep generative prior answers it by searching the images a generator $G$ can
# make for one that explains $y$: find a latent $z$ with $A(G(z)) \approx y$ and report $G(z)$.
#
# This notebook does that from Python, on an image file of your own:
#
# 1. build a forward **operator** $A$ (4× super-resolution) and look at what it leaves of the image;
# 2. solve with the **default generator** (the 64×64 face DCGAN that ships with invprob) and two
#    solvers: **CSGM** (Bora et al. 2017: optimise $z$) and **ILO** (Daras et al. 2021: then keep
#    optimising *inside* the generator, at ever deeper layers, in small $\ell_1$ balls);
# 3. plot observation, CSGM, ILO and the truth with their PSNR.
#
# Everything here is the public API of the `invprob` package (the
# [façade](../../reference/invprob/)): `invprob.build_operator`, `invprob.run`, and the run's
# results. The same runs are YAML recipes on the command line
# ([Recipes, runs and the command](../../guide/using-invprob/)). Step counts are small so that the
# notebook runs in about a minute on a laptop CPU; the shipped recipes use 800 steps.
#
# Each notebook of this site is a Python file in the repository, `docs/notebooks/*.py` (jupytext's
# percent format: cells between `# %%` lines), that CI runs from top to bottom. Run one as a script
# (`python 01_first_inverse_problem.py`), open it in Jupyter with `jupytext` installed, or convert
# it: `jupytext --to ipynb 01_first_inverse_problem.py`.

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

import invprob

work = Path(tempfile.mkdtemp(prefix="invprob-first-"))  # everything this notebook writes goes here
print(invprob.__version__, work)

# %% [markdown]
# ## An image of your own
#
# `invprob example demo` copies the demo recipe and its face image out of the installed
# `invprob-plugin-examples` distribution, so this works after `pip install "invprob-core[all]"`,
# without a checkout. `invprob.main` is the `invprob` command, run in this process (in a terminal:
# `invprob example demo --out DIR`).
#
# **To use your own photo**, set `image = Path("my-photo.jpg")` instead. Any size or format Pillow
# reads will do: a run fits it to the generator's 64×64 by taking the largest centred square and
# resizing it (the recipe's `data.fit` chooses `centre-crop`, `pad`, `resize` or `refuse`), and
# says so in one line. The default generator was trained on CelebA face crops, so a face framed
# like the one below is what it can reconstruct; another kind of image needs another generator
# ([Bring your own generator](../02_bring_your_own_generator/)).

# %%
invprob.main(["example", "demo", "--out", str(work / "demo")])
image = work / "demo" / "images" / "astronaut-face64.png"

truth = torch.from_numpy(np.array(Image.open(image).convert("RGB"))).permute(2, 0, 1)[None] / 255.0
truth.shape, truth.min().item(), truth.max().item()  # [1, 3, 64, 64] in [0, 1]

# %% [markdown]
# ## The operator
#
# Operators are components, found by their registered name (`invprob plugins` lists them all;
# `invprob describe operator downsample` prints the parameters). `invprob.build_operator` builds one
# for an image shape. The operator it returns takes images in **[0, 1]** (as torchvision and
# deepinv do) and gives the measurement in the same range: here a 16×16 image, a sixteenth of the
# pixels, made with the antialiased bicubic filter the ILO and PULSE papers use.

# %%
op = invprob.build_operator("downsample", image_shape=(3, 64, 64), factor=4, method="bicubic")
y = op(truth)
print("measurement:", tuple(y.shape))

fig, axes = plt.subplots(1, 2, figsize=(4, 2))
for ax, picture, title in zip(axes, (y, truth), ("y = A(x), 16×16", "x, 64×64")):
    ax.imshow(picture[0].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Two solvers, one recipe
#
# `invprob.run` takes a recipe: a YAML file, or the same thing as a dict. A component is
# `{type: <registered name>, params: {...}}`; objects may stand in for them from Python (the
# operator `op` above could be passed as `"operator": op`). Each run writes a new directory
# under `out` (the resolved recipe, metrics, images, latents, loss curves) and returns its
# results in memory.
#
# The two runs differ only in their solver:
#
# - **CSGM** optimises the DCGAN's latent $z$ with Adam, from 2 random starts at once, and keeps
#   the best per image. Its reconstruction can only be an image the generator makes: a face,
#   but rarely *this* face.
# - **ILO** starts the same way (round 0), then splits the generator $G = G_2 \circ G_1$ after a
#   layer and optimises the feature map that $G_1$ produced, within an $\ell_1$ ball around it,
#   layer after layer. The image may leave the generator's range a little: enough to fit the
#   measurement far better, not so far that it stops looking like a face.
#
# Both minimise the MSE between $A(G(\cdot))$ and $y$ (each solver's default loss; the
# [solvers guide](../../solvers/) explains the losses and how prior weights scale).

# %%
recipe = {
    "version": 1,
    "seed": 0,  # every random draw comes from this seed: a rerun gives the same numbers
    "generator": {"type": "dcgan64-faces"},  # the default model, embedded in invprob-plugin-dcgan
    "operator": {"type": "downsample", "params": {"factor": 4, "method": "bicubic"}},
    "data": {"images": str(image)},  # a file, a folder, a glob, a .zip, or a [B, C, H, W] tensor in [0, 1]
    "metrics": ["psnr", "ssim"],
}
solvers = {
    "CSGM": {"type": "csgm", "params": {"steps": 100, "lr": 0.1, "restarts": 2}},
    "ILO": {"type": "ilo", "params": {"steps": [80, 40, 40, 40], "lr": 0.1, "radius_features": [1000, 2000, 4000]}},
}
runs = {
    label: invprob.run({**recipe, "solver": solver}, out=work / "runs", name=label.lower(), show_progress=False)
    for label, solver in solvers.items()
}
for label, run in runs.items():
    print(f"{label}: PSNR {run.metrics['mean']['psnr']:.2f} dB, SSIM {run.metrics['mean']['ssim']:.3f}   {run.directory}")

# %% [markdown]
# ## The result
#
# A run's `observations`, `reconstructions` and `ground_truth` are `[N, C, H, W]` tensors in
# [0, 1]; its `metrics` are what `metrics.json` holds (per image, means, and flat `records` for
# pandas). The run directory also has `grid.png`, the same comparison as an image.

# %%
csgm, ilo = runs["CSGM"], runs["ILO"]
columns = [
    ("observation (16×16)", csgm.observations, None),
    ("CSGM", csgm.reconstructions, csgm.metrics["mean"]["psnr"]),
    ("ILO", ilo.reconstructions, ilo.metrics["mean"]["psnr"]),
    ("truth", csgm.ground_truth, None),
]
fig, axes = plt.subplots(1, len(columns), figsize=(2.2 * len(columns), 2.6))
for ax, (title, pictures, psnr) in zip(axes, columns):
    ax.imshow(pictures[0].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
    ax.set_title(title if psnr is None else f"{title}\n{psnr:.2f} dB", fontsize=10)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ILO's reconstruction is far closer to the truth than CSGM's, and it explains the measurement
# far better too (compare `run.metrics["mean"]["measurement_loss"]`). That is the point of the
# ILO paper: the generator's range is too small to hold this particular face, and searching a
# little outside it recovers detail that no latent gives. The shipped recipes take more steps
# (ILO: `steps: [300, 200, 200, 100]`, CSGM: 800).
#
# ## Where next
#
# - The same runs from the command line: `invprob run recipes/ilo-superres-dcgan64.yaml`
#   ([Recipes, runs and the command](../../guide/using-invprob/)).
# - Every method on real faces, task by task: the [gallery](../../gallery/).
# - Your own generator: [notebook 2](../02_bring_your_own_generator/); your own operator:
#   [notebook 3](../03_write_an_operator_plugin/); a grid of runs on Ray: [notebook 4](../04_a_study_on_ray/).
