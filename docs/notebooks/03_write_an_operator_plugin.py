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
# # Write an operator plugin
#
# Your measurement is not in the list: a camera's motion blur, a scanner's point-spread function,
# a sensing matrix of your lab's hardware. In invprob a forward model is an **operator**, and an
# operator you can share is a **plugin**: a small pip-installable distribution that registers it
# by name, so that a recipe says `operator: {type: my-blur}` and every solver, study and command
# can use it. This notebook writes one:
#
# 1. `invprob new-plugin` writes a complete, installable skeleton with its tests;
# 2. we replace its toy operator with a horizontal motion blur;
# 3. invprob's **conformance suite** checks it (adjointness, agreement with autograd, the dense
#    matrix, batches, seeded noise, device moves);
# 4. we solve a deblurring problem with it.
#
# The [plugin guide](../../third-party-plugin/) explains every part in depth; the
# [testing kit's reference](../../reference/invprob.testing/) lists the suites.

# %%
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

import invprob

work = Path(tempfile.mkdtemp(prefix="invprob-plugin-"))  # everything this notebook writes goes here


def shell(*command: str, env: dict | None = None, cwd: Path | None = None) -> None:
    """Run a command as a terminal would, print what it printed, and stop on failure."""
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    print(done.stdout + done.stderr)
    done.check_returncode()


def write(path: Path, text: str) -> None:
    path.write_text(text)
    print(f"wrote {path.relative_to(work)}")


def invprob_cli(*args: str, **kwargs) -> None:
    """The `invprob` command of this Python (`python -m invprob` is the same program)."""
    shell(sys.executable, "-m", "invprob", *args, **kwargs)


# %% [markdown]
# ## The skeleton
#
# `invprob new-plugin NAME --kind operator` (a command of the `invprob-plugin-scaffold`
# distribution, in `invprob-core[all]`) writes the distribution `invprob-plugin-NAME`: its
# `pyproject.toml` (whose `[project.entry-points.invprob]` table *is* the registration), the
# package with a working operator (`A(x) = gain * x`, so that everything passes from the first
# minute), a README and the conformance tests.

# %%
plugin = work / "invprob-plugin-my-blur"
invprob_cli("new-plugin", "my-blur", "--kind", "operator", "--out", str(plugin))
for path in sorted(plugin.rglob("*")):
    if path.is_file():
        print(path.relative_to(work))

# %%
print((plugin / "pyproject.toml").read_text().split("[project.entry-points.invprob]")[1].split("[tool")[0])

# %% [markdown]
# ## The operator
#
# An operator is a `torch.nn.Module` with `A(x)`, the noiseless forward map, and, when it is
# linear, `A_adjoint(y)`, its adjoint; the noise model is separate and seeded, so that a run's
# noise is reproducible. Solvers differentiate through `A`, so it must be written in torch.
# Parameters are buffers (the operator has no device of its own). Images arrive in [-1, 1].
#
# Ours blurs each row over `length` pixels, as a camera moving sideways during the exposure does:
# the mean of the image shifted by 0, 1, ..., `length - 1` pixels. With circular shifts, the
# adjoint is the same mean with the shifts reversed. (A real motion blur at the borders is not
# circular; the point here is an exact adjoint the tests can check.)

# %%
write(plugin / "invprob_plugin_my_blur" / "operator.py", '''\
"""The operator 'my-blur': horizontal motion blur over `length` pixels (circular)."""

from __future__ import annotations

import torch

from invprob.operator import NoiseModel, Operator


class MyBlurOperator(Operator):
    """``A(x)``: the mean of ``x`` shifted right by 0, 1, ..., ``length - 1`` pixels (wrapping
    around); its adjoint averages the shifts to the left."""

    linear = True

    def __init__(self, length: int, noise: NoiseModel | None = None):
        super().__init__(noise)
        self.length = int(length)

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return sum(torch.roll(x, shift, dims=-1) for shift in range(self.length)) / self.length

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return sum(torch.roll(y, -shift, dims=-1) for shift in range(self.length)) / self.length
''')

# %% [markdown]
# The entry-point module holds the **params model** (pydantic: types, defaults, bounds and
# descriptions, which `invprob describe`, `invprob schema` and recipe validation all read), the
# **factory** and the **hook**. It stays light (no torch at import), so that `invprob plugins`
# is fast however many plugins are installed. The `examples` are the params the conformance suite
# builds the operator with: give the interesting cases.

# %%
write(plugin / "invprob_plugin_my_blur" / "plugin.py", '''\
"""Entry point of invprob-plugin-my-blur: the params model, the factory and the hook (no torch here)."""

from __future__ import annotations

from pydantic import Field

from invprob import hookimpl
from invprob.params import Params
from invprob.registry import ComponentRegistry


class MyBlurParams(Params):
    """Horizontal motion blur over `length` pixels (circular), with optional Gaussian noise."""

    length: int = Field(5, ge=1, description="pixels the blur spreads each point over, along the rows")
    noise_sigma: float = Field(0.0, ge=0, description="noise standard deviation on the 0-255 scale")


def _build(params: MyBlurParams, context):
    from invprob.images import sigma_from_255
    from invprob.operator import GaussianNoise

    from .operator import MyBlurOperator  # heavy imports inside the factory

    noise = GaussianNoise(sigma_from_255(params.noise_sigma)) if params.noise_sigma > 0 else None
    return MyBlurOperator(params.length, noise).to(context.device)


@hookimpl
def invprob_register_operators(registry: ComponentRegistry) -> None:
    registry.add("my-blur", _build, params_model=MyBlurParams, examples=[{}, {"length": 2, "noise_sigma": 5}])
''')

# %% [markdown]
# ## Its tests
#
# The generated test module is three lines: a subclass of `invprob.testing.OperatorConformance`
# naming the distribution. The suite finds every operator the distribution registers *through its
# entry point*, so the plugin must be installed for them to run. On your machine that is
#
# ```bash
# pip install -e './invprob-plugin-my-blur[test]'    # editable: your edits apply at once
# pytest invprob-plugin-my-blur
# invprob plugins                                    # lists it, or says why it failed to load
# ```
#
# This notebook must leave the environment it runs in as it found it (its tests run beside
# others), so it installs the plugin into a throwaway folder instead (`pip install --target`,
# without dependencies: invprob and torch are already here) and puts that folder on the
# `PYTHONPATH` of the commands below only. Run from the plugin's folder, Python imports the
# package from there (the folder comes first on `sys.path`) and takes only the entry point from the
# installed copy's metadata: an edit applies without reinstalling, as with `pip install -e`.

# %%
site = work / "site"
shell(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(site), str(plugin))
for leftover in [plugin / "build", *plugin.glob("*.egg-info")]:  # what the build left in the source folder
    shutil.rmtree(leftover)
with_plugin = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
invprob_cli("describe", "operator", "my-blur", env=with_plugin)

# %% [markdown]
# The conformance suite, from the plugin's own folder, as `pytest` there would run it: every check
# on every example, at two image shapes. (The skipped tests need a CUDA device.)

# %%
shell(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no", env=with_plugin, cwd=plugin)

# %% [markdown]
# A wrong adjoint is the classic bug of a hand-written operator, and the one that silently ruins
# a solver that uses it. Break ours (forget to reverse the shifts) and the suite says so, with the
# relative error it measured:

# %%
operator_py = plugin / "invprob_plugin_my_blur" / "operator.py"
correct = operator_py.read_text()
write(operator_py, correct.replace("torch.roll(y, -shift", "torch.roll(y, shift"))
result = subprocess.run(
    [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no", "--tb=line"],
    capture_output=True, text=True, cwd=plugin, env=with_plugin,
)
errors = {}  # the first failure of each kind of check (the others differ only in their numbers)
for line in result.stdout.splitlines():
    if line.startswith("E "):
        errors.setdefault(re.sub(r"[0-9.e-]+", "", line), line)
print("\n".join([*errors.values(), result.stdout.splitlines()[-1]]))
assert result.returncode == 1, "the suite must catch the wrong adjoint"
write(operator_py, correct)

# %% [markdown]
# ## Using it
#
# Installed, the plugin is used by name like any other: `operator: {type: my-blur, params:
# {length: 7}}` in a recipe. From a notebook, no packaging is needed at all: register the
# module's hooks on invprob's registry under a distribution name (running the cell again after an
# edit replaces what that name registered before).

# %%
sys.path.insert(0, str(plugin))  # the plugin's source folder, importable in this kernel only
import invprob_plugin_my_blur.plugin  # noqa: E402

from invprob.registry import default_registry  # noqa: E402

default_registry().register_plugin(invprob_plugin_my_blur.plugin, distribution="invprob-plugin-my-blur")
print(invprob.build_operator("my-blur", image_shape=(3, 64, 64), length=7))

# %% [markdown]
# Now a deblurring problem: the demo face blurred over 7 pixels with a little noise, solved with
# ILO on the default 64×64 face DCGAN (few steps, to keep the notebook quick).

# %%
invprob_cli("example", "demo", "--out", str(work / "demo"))
run = invprob.run(
    {
        "version": 1,
        "seed": 0,
        "generator": {"type": "dcgan64-faces"},
        "operator": {"type": "my-blur", "params": {"length": 7, "noise_sigma": 2}},
        "solver": {"type": "ilo", "params": {"steps": [80, 40, 40, 40], "radius_features": [1000, 2000, 4000]}},
        "data": {"images": str(work / "demo" / "images" / "astronaut-face64.png")},
        "metrics": ["psnr"],
    },
    out=work / "runs",
    name="deblur",
    show_progress=False,
)
psnr = run.metrics["mean"]["psnr"]
fig, axes = plt.subplots(1, 3, figsize=(6.6, 2.6))
for ax, picture, title in zip(
    axes, (run.observations, run.reconstructions, run.ground_truth), ("blurred (my-blur, 7 px)", f"ILO, {psnr:.2f} dB", "truth")
):
    ax.imshow(picture[0].permute(1, 2, 0).clamp(0, 1).numpy())
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Publishing it
#
# The folder is a complete distribution: `python -m build` makes its wheel, and after
# `pip install invprob-plugin-my-blur` anyone's `invprob plugins` lists it. Its `pyproject.toml`
# requires the minor series of invprob it was written against (`invprob-core>=0.1,<0.2`). The
# [plugin guide](../../third-party-plugin/) covers the rest: priors, losses, solvers and
# generators (`--kind prior|solver|generator`), commands of your own, and what the conformance
# suites check for each.
