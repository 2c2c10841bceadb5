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
# # Bring your own generator
#
# The prior *is* the generator: a solver can only find images your generator makes (or, for ILO,
# images close to them). The default 64×64 face DCGAN is there to start with; your research
# needs your model. This notebook shows the two ways in:
#
# 1. **any `torch.nn.Module`** that maps a latent batch to images, wrapped by
#    `invprob.adapt_generator` (from the `invprob-plugin-torch-module` distribution, in
#    `invprob-core[all]`), which checks it once and says what does not fit;
# 2. **a StyleGAN2 checkpoint** in the format people have (rosinality's `.pt`), loaded by the
#    `stylegan2` generator of `invprob-plugin-stylegan2`, with its latent spaces (z, w, w+) and a
#    split at every block, so that ILO can search its intermediate layers.
#
# No pretrained model can be downloaded here, so both are tiny and random: what matters is the
# path your own weights take. The [façade's reference](../../reference/invprob/) and the
# [torch-module plugin page](../../plugins/adapters/torch-module/) document `adapt_generator`; the
# [StyleGAN2 plugin page](../../plugins/generators/stylegan2/) every checkpoint format and parameter.

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import yaml
from torch import nn

import invprob

work = Path(tempfile.mkdtemp(prefix="invprob-own-generator-"))  # everything this notebook writes goes here
torch.manual_seed(0)  # the tiny networks' random weights


def show(images, titles, size=1.8):
    """A row of [0, 1] images [N, C, H, W] (or a list of [C, H, W]) with their titles."""
    fig, axes = plt.subplots(1, len(titles), figsize=(size * len(titles), size + 0.4))
    for ax, picture, title in zip(axes, images, titles):
        ax.imshow(picture.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    plt.show()


# %% [markdown]
# ## 1. A plain `nn.Module`
#
# Here is a small decoder of the usual shape: a 16-dimensional latent, a linear layer to a 4×4
# feature map, two upsampling convolutions and a **sigmoid**, so its images are 16×16 RGB in
# [0, 1]. Yours could be a DCGAN, a VAE decoder, a normalising flow: anything whose `forward`
# takes `[B, *latent_shape]` and returns `[B, C, H, W]`.

# %%
class TinyDecoder(nn.Module):
    def __init__(self, latent_dim: int = 16):
        super().__init__()
        self.fc = nn.Linear(latent_dim, 32 * 4 * 4)
        self.body = nn.Sequential(
            nn.Upsample(scale_factor=2), nn.Conv2d(32, 16, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2), nn.Conv2d(16, 3, 3, padding=1), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.fc(z).view(-1, 32, 4, 4))


class Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


decoder = TinyDecoder()
with torch.no_grad():  # random weights, scaled up so that the images show more than grey
    decoder.body[4].weight.mul_(6.0)

# %% [markdown]
# `adapt_generator` needs what the module cannot tell: the latent's shape (without the batch),
# the distribution it was trained with (`"normal"`, N(0, 1), the default, or `"uniform"`,
# U(-1, 1)), and the range of its images (`(0, 1)` for a sigmoid, `(-1, 1)` for a tanh). It runs
# the module once on two sampled latents and checks shape, dtype, finiteness and range, so a wrong
# declaration fails here, naming the module and what to change, rather than as a poor
# reconstruction an hour later. (One mistake no check can see: a [0, 1] module declared
# `(-1, 1)`, the default, makes images inside the declared range, only with half its contrast.
# Declare the range your module was trained for.)

# %%
mistakes = {
    "a DCGAN's latent size": (decoder, {"latent_shape": (100,)}),
    "images flattened": (nn.Sequential(decoder, nn.Flatten()), {"latent_shape": (16,)}),
    "pixel values 0-255": (nn.Sequential(decoder, Scale(255.0)), {"latent_shape": (16,), "output_range": (0, 1)}),
}
for what, (module, declared) in mistakes.items():
    try:
        invprob.adapt_generator(module, **declared)
    except ValueError as error:
        print(f"{what}:\n  {error}\n")

# %%
G = invprob.adapt_generator(decoder, latent_shape=(16,), output_range=(0, 1))
print(G.image_shape, G.latent_spaces)
samples = G(G.sample_latent(4, torch.Generator().manual_seed(1)))  # the generator contract: images in [-1, 1]
show((samples + 1) / 2, [f"sample {i}" for i in range(4)])

# %% [markdown]
# The adapted generator goes into a recipe where `{type, params}` would: `"generator": G`. The
# rest of the recipe is as usual. Here the truth is two images the generator itself makes
# (`data: {samples: 2}`, drawn from the seed), observed through a random inpainting mask that keeps
# 30% of the pixels, and **CSGM** searches the latent. Because the truth is in the generator's
# range, CSGM can find it: a check that your model and the solver get on, before you try real
# images (`data: {images: ...}`).

# %%
run = invprob.run(
    {
        "version": 1,
        "seed": 0,
        "generator": G,
        "operator": {"type": "inpaint-random", "params": {"observed": 0.3}},
        "solver": {"type": "csgm", "params": {"steps": 200, "lr": 0.05, "restarts": 2}},
        "data": {"samples": 2},
        "metrics": ["psnr"],
    },
    out=work / "runs",
    name="tiny-decoder-csgm",
    show_progress=False,
)
psnr = [r["value"] for r in run.metrics["records"] if r["metric"] == "psnr"]
show(
    [*run.observations, *run.reconstructions, *run.ground_truth],
    ["observed 0", "observed 1", f"CSGM {psnr[0]:.1f} dB", f"CSGM {psnr[1]:.1f} dB", "truth 0", "truth 1"],
)
resolved = yaml.safe_load((run.directory / "recipe.resolved.yaml").read_text())
print("recipe.resolved.yaml says the generator came from Python:", resolved["generator"])

# %% [markdown]
# A PSNR of about 100 dB is float32 rounding: CSGM found latents that make exactly the truth, as it
# should when the truth is in the generator's range and the measurement pins it down.
#
# The wrapped module is one stage, so it splits only before and after itself: CSGM, PULSE and the
# latent priors work with it, but ILO's intermediate layers need a generator that lists its
# stages (as the DCGANs and StyleGAN2 do). To get that for your own architecture, write a
# generator plugin: `invprob new-plugin my-gan --kind generator` (see
# [notebook 3](../03_write_an_operator_plugin/) for the operator version of the same steps).
#
# ## 2. A StyleGAN2 checkpoint
#
# StyleGAN2 checkpoints come in rosinality's `.pt` format (`{"g_ema", "d", "latent_avg", "args"}`,
# what `stylegan2-pytorch`'s `train.py` writes and what the official weights are converted to),
# as NVlabs `.pkl` snapshots, or as safetensors. We write a tiny random `.pt` the way
# `invprob-plugin-stylegan2`'s own tests do: a randomly initialised 16×16 model (a real one is
# 256 or 1024 pixels with 512-dimensional styles), saved with `torch.save` in rosinality's layout.

# %%
tiny = {"size": 16, "style_dim": 8, "n_mlp": 2, "channels": {4: 8, 8: 8, 16: 4}}
random_model = invprob.build_generator("stylegan2", seed=2, **tiny)
checkpoint = work / "tiny-stylegan2.pt"
torch.save(
    {
        "g_ema": random_model.g_ema.state_dict(),
        "d": random_model.discriminator.state_dict(),
        "latent_avg": random_model.latent_avg[0],
    },
    checkpoint,
)
print(f"{checkpoint.name}: {checkpoint.stat().st_size / 1e3:.0f} kB")

# %% [markdown]
# Loading it is one parameter, `checkpoint`. Everything else is read from the file: the resolution,
# the style dimension, the mapping depth and every channel width come from the tensors' shapes
# (`channel_multiplier` alone does not determine them). The file is read with
# `torch.load(weights_only=True)`, so it cannot run code, and the load is strict: a missing or
# misshaped tensor is reported key by key. `latent` chooses the space solvers search (`w+`, one
# style per layer, the default; `w`; `z`).

# %%
G2 = invprob.build_generator("stylegan2", checkpoint=checkpoint, latent="w+")
print("inferred:", G2.config)
print("latents:", {name: space.shape for name, space in G2.latent_spaces.items()}, "stages:", G2.num_stages)

latents = G2.sample_latent(3, torch.Generator().manual_seed(0))
images = G2(latents)
for k in range(G2.num_stages + 1):  # the split invariant ILO relies on: G2(G1(w)) == G(w) at every block
    first, second = G2.split(k)
    assert torch.equal(second(first(latents)), images), k
show((images + 1) / 2, ["random StyleGAN2"] * 3)

# %% [markdown]
# The checkpoint goes into a recipe by its path. ILO splits the StyleGAN2 after a synthesis block
# and optimises the feature map, the RGB skip, the w+ styles and the noise maps still to come, each
# in its $\ell_1$ ball (the [ILO plugin page](../../plugins/solvers/ilo/) has the details). The
# truth is again drawn from the generator, here observed at half resolution.

# %%
recipe = {
    "version": 1,
    "seed": 0,
    "generator": {"type": "stylegan2", "params": {"checkpoint": str(checkpoint)}},
    "operator": {"type": "downsample", "params": {"factor": 2}},
    "solver": {"type": "ilo", "params": {"steps": [40, 20, 20], "first_layer": 2}},
    "data": {"samples": 2},
    "metrics": ["psnr"],
}
run = invprob.run(recipe, out=work / "runs", name="stylegan2-ilo", show_progress=False)
print(f"ILO on the tiny StyleGAN2: PSNR {run.metrics['mean']['psnr']:.1f} dB")
print("weights recorded:", run.summary().environment["weights"])
show([*run.reconstructions, *run.ground_truth], ["ILO 0", "ILO 1", "truth 0", "truth 1"])

# %% [markdown]
# ## With a real checkpoint
#
# Nothing above changes but the file and the step counts:
#
# ```yaml
# generator:
#   type: stylegan2
#   params:
#     checkpoint: ffhq-256.pt      # rosinality .pt, NVlabs stylegan2-ada .pkl, or .safetensors
#     latent: w+
#     truncation: 1.0              # psi < 1 pulls every w towards latent_avg
# solver:
#   type: ilo
#   params: {steps: [300, 200, 200, 100], first_layer: 2}
# ```
#
# - The architecture is inferred from the file; its sha256 goes into the run's
#   `environment.json`, so a result names the weights it came from.
# - A `.pkl` from NVlabs' stylegan2-ada-pytorch is read through a restricted unpickler that never
#   runs the code embedded in it. Convert either format once to safetensors, our native format,
#   which loads faster and is never a pickle:
#   `invprob convert stylegan2 ffhq-256.pt ffhq-256.safetensors`.
# - ILO and PULSE fit a Gaussian to the mapping network's output on first use and cache it beside
#   the checkpoint (`G.gaussian_fit`); a 256-pixel model takes seconds per step on a CPU, so give it
#   a GPU (`device: cuda`).
# - The recipes `recipes/ilo-*-stylegan2.yaml` and `recipes/pulse-superres-stylegan2.yaml` are
#   written for such a checkpoint, given on the command line:
#   `invprob run recipes/ilo-superres-stylegan2.yaml generator.params.checkpoint=/path/to/ffhq.pt`.
#
# The conversion, on our tiny file:

# %%
invprob.main(["convert", "stylegan2", str(checkpoint), str(work / "tiny-stylegan2.safetensors")])
converted = invprob.build_generator("stylegan2", checkpoint=work / "tiny-stylegan2.safetensors")
print("same images after conversion:", torch.equal(converted(latents), images))
