"""StyleGAN2 as an invprob generator: latent spaces z, w, w+ and noise maps, split at every block.

Latents are a dict with exactly one of

- ``"z"``  ``[B, style_dim]``: mapped to w by the mapping network;
- ``"w"``  ``[B, style_dim]``: one w for every layer;
- ``"w+"`` ``[B, n_latent, style_dim]``: one w per layer (slot);

and optionally any of the noise maps ``"noise_i"`` ``[B, 1, H, W]``; the ones not given are
the checkpoint's fixed ``noises.noise_i`` buffers (rosinality's ``randomize_noise=False``),
so a result is reproducible. ``truncation = psi < 1`` moves every w (every slot of a w+)
towards ``latent_avg``: ``avg + psi * (w - avg)``.

Stages, and the named state after each (``K = log2(size)`` stages; ``split(k)`` for
``0 <= k <= K``; state 0 is the latents):

- stage 1, *styles*: ``{"w+": [B, n_latent, D], "noise_0": …, …, "noise_{L-1}": …}``
  (z mapped, truncation applied, w broadcast; every noise map, given or the buffer);
- stage ``j + 2`` for block ``j = 0 … num_blocks - 1`` (resolution ``4 * 2**j``):
  ``{"feature": [B, C, r, r], "skip": [B, 3, r, r], "w+": slots 2j+1 …, "noise_i": i >= 2j+1}``:
  the feature map after the block's last StyledConv, the running RGB skip after its ToRGB,
  and the W+ slots and noise maps still to come. Slot ``2j + 1`` is kept: it feeds both the
  ToRGB of block ``j`` and the upsampling conv of block ``j + 1``.
- the last block writes ``{"image": …}`` only.

The RGB skip travels with the feature map (the ILO reference code drops it), so
``G2(G1(latents)) == G(latents)`` exactly at every k. Solvers optimise these entries by name.

StyleGAN2 has no output nonlinearity; ``output="clamp"`` (default) clamps the image to
[-1, 1], as the generator contract asks; ``output="raw"`` returns rosinality's image as is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from invprob import seeding, weights
from invprob.generator import IMAGE, Generator, LatentSpace, Latents, State

from .networks import StyleGAN2Config, StyleGAN2Discriminator, StyleGAN2Network

STYLE_KEYS = ("z", "w", "w+")
FEATURE, SKIP, WPLUS = "feature", "skip", "w+"
OutputMode = Literal["clamp", "raw"]


def noise_key(index: int) -> str:
    return f"noise_{index}"


class StylesStage(nn.Module):
    """Stage 1: latents (z, w or w+, and optional noise maps) to ``{"w+", "noise_0", …}``."""

    def __init__(self, owner: StyleGAN2Generator):
        super().__init__()
        self.style = owner.g_ema.style
        self.noises = owner.g_ema.noises
        self.config = owner.config
        self.truncation = owner.truncation
        self.latent_avg = owner.latent_avg

    def forward(self, latents: State) -> State:
        batch = next(iter(latents.values())).shape[0]
        state: State = {WPLUS: styles_to_wplus(latents, self.style, self.config.n_latent, self.truncation, self.latent_avg)}
        for i in range(self.config.num_layers):
            given = latents.get(noise_key(i))
            state[noise_key(i)] = given if given is not None else self.noises[i].expand(batch, -1, -1, -1)
        return state


class BlockStage(nn.Module):
    """Block ``k`` of the synthesis as a stage: ``{feature, skip, w+, noise_i}`` to the next state."""

    def __init__(self, owner: StyleGAN2Generator, k: int):
        super().__init__()
        self.net = owner.g_ema
        self.k = k
        self.last = k == owner.config.num_blocks - 1
        self.output = owner.output

    def forward(self, state: State) -> State:
        k, wplus = self.k, state[WPLUS]
        noise_ids = [0] if k == 0 else [2 * k - 1, 2 * k]
        used = 2 if k == 0 else 3
        feature, skip = self.net.block(
            k, wplus[:, :used], [state[noise_key(i)] for i in noise_ids], state.get(FEATURE), state.get(SKIP)
        )
        if self.last:
            return {IMAGE: finish(skip, self.output)}
        rest = {name: value for name, value in state.items() if name.startswith("noise_") and int(name[6:]) > noise_ids[-1]}
        return {FEATURE: feature, SKIP: skip, WPLUS: wplus[:, used - 1 :], **rest}


def finish(image: torch.Tensor, output: OutputMode) -> torch.Tensor:
    return image.clamp(-1, 1) if output == "clamp" else image


def styles_to_wplus(
    latents: Mapping[str, torch.Tensor], mapping: nn.Module, n_latent: int, truncation: float, latent_avg: torch.Tensor
) -> torch.Tensor:
    """The W+ tensor ``[B, n_latent, D]`` for latents holding one of z, w, w+ (truncated if ``< 1``)."""
    if "z" in latents:
        w = mapping(latents["z"])
    else:
        w = latents["w"] if "w" in latents else latents[WPLUS]
    if truncation < 1:
        avg = latent_avg.reshape(-1)
        w = avg + truncation * (w - avg)
    return w if w.dim() == 3 else w[:, None, :].expand(-1, n_latent, -1)


class StyleGAN2Generator(Generator):
    """A StyleGAN2 (rosinality layout) behind invprob's generator contract.

    Submodules are the checkpoint's: ``g_ema`` (:class:`StyleGAN2Network`) and, where the
    checkpoint has one, ``discriminator`` (its ``d``; returns a logit); ``latent_avg``
    ``[1, style_dim]`` is a buffer. ``latent`` picks the primary latent space (what
    ``sample_latent`` draws); ``noise_latents=True`` also declares the noise maps as latents.

    Implements the optional capabilities :class:`~invprob.generator.HasStateLatents`
    (:attr:`state_latents`) and :class:`~invprob.generator.HasGaussianFit` (:meth:`gaussian_fit`).
    """

    discriminator_output = "logit"

    def __init__(
        self,
        network: StyleGAN2Network,
        discriminator: StyleGAN2Discriminator | None = None,
        latent_avg: torch.Tensor | None = None,
        *,
        latent: Literal["z", "w", "w+"] = "w+",
        noise_latents: bool = False,
        truncation: float = 1.0,
        output: OutputMode = "clamp",
        source: Path | None = None,
    ):
        super().__init__()
        if latent not in STYLE_KEYS:
            raise ValueError(f"stylegan2 latent must be one of {STYLE_KEYS}, got {latent!r}")
        if not 0 < truncation <= 1:
            raise ValueError(f"stylegan2 truncation must be in (0, 1], got {truncation}")
        if output not in ("clamp", "raw"):
            raise ValueError(f"stylegan2 output must be 'clamp' or 'raw', got {output!r}")
        self.config: StyleGAN2Config = network.config
        self.g_ema = network
        self.discriminator = discriminator
        if latent_avg is None:
            latent_avg = mean_latent(network, 4096, seed=0)
        self.register_buffer("latent_avg", latent_avg.detach().reshape(1, -1).clone())
        self.truncation = float(truncation)
        self.output = output
        self.source = source
        self.image_shape = (3, self.config.size, self.config.size)
        dim, n = self.config.style_dim, self.config.n_latent
        spaces = {
            "z": LatentSpace("z", (dim,)),
            "w": LatentSpace.custom("w", (dim,), self.sample_w),
            "w+": LatentSpace.custom("w+", (n, dim), self.sample_wplus),
        }
        self.latent_spaces = {latent: spaces[latent]}
        if noise_latents:
            for i in range(self.config.num_layers):
                r = self.config.noise_resolution(i)
                self.latent_spaces[noise_key(i)] = LatentSpace(noise_key(i), (1, r, r))
        self.eval()
        self.requires_grad_(False)

    # -- latents -------------------------------------------------------------------------

    def sample_w(self, batch: int, rng: torch.Generator | None) -> torch.Tensor:
        """``w = mapping(z)`` for ``z ~ N(0, I)`` drawn on ``rng`` (CPU), mapped on this module's device."""
        device = self.latent_avg.device
        z = seeding.randn((batch, self.config.style_dim), rng, device=device, dtype=self.latent_avg.dtype)
        return self.g_ema.get_latent(z)

    def sample_wplus(self, batch: int, rng: torch.Generator | None) -> torch.Tensor:
        """One ``w = mapping(z)`` per image, repeated over the ``n_latent`` slots."""
        return self.sample_w(batch, rng)[:, None, :].repeat(1, self.config.n_latent, 1)

    def as_latents(self, latents: Latents | torch.Tensor) -> Latents:
        """Exactly one of z, w, w+ (a bare tensor is the primary latent), plus optional ``noise_i``."""
        if isinstance(latents, torch.Tensor):
            return {self.primary_latent.name: latents}
        if not isinstance(latents, Mapping):
            raise TypeError(f"stylegan2 takes latents as a dict {{name: tensor}}, got {type(latents).__name__}")
        styles = [name for name in STYLE_KEYS if name in latents]
        noise_names = {noise_key(i) for i in range(self.config.num_layers)}
        unknown = sorted(set(latents) - set(STYLE_KEYS) - noise_names)
        if len(styles) != 1 or unknown:
            raise ValueError(
                f"stylegan2 takes exactly one of 'z', 'w', 'w+' and optionally noise_0..noise_{self.config.num_layers - 1}; "
                f"got {sorted(latents)}"
            )
        value, dim = latents[styles[0]], self.config.style_dim
        expected = (self.config.n_latent, dim) if styles[0] == WPLUS else (dim,)
        if tuple(value.shape[1:]) != expected:
            raise ValueError(f"stylegan2 latent {styles[0]!r} must be [B, {', '.join(map(str, expected))}], got {tuple(value.shape)}")
        return dict(latents)

    # -- stages --------------------------------------------------------------------------

    @property
    def stages(self) -> list[nn.Module]:
        """Styles, then one stage per synthesis block (views of ``g_ema``'s modules, built on demand)."""
        return [StylesStage(self), *(BlockStage(self, k) for k in range(self.config.num_blocks))]

    def synthesize(self, latents: Latents | torch.Tensor) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """The raw (unclamped) image and the ``(feature, skip)`` after every block, as rosinality computes them."""
        state = self.stages[0](self.as_latents(latents))
        noises = [state[noise_key(i)] for i in range(self.config.num_layers)]
        return self.g_ema.synthesis(state[WPLUS], noises)

    @property
    def state_latents(self) -> tuple[str, ...]:
        """Names of split-state entries that are latents, not feature maps: ``w+`` and every ``noise_i``
        (:class:`~invprob.generator.HasStateLatents`).

        They are latents whether or not this model declares them as its input latents (``latent: z``
        still carries ``w+`` in its state after the mapping); ILO gives them its latent and noise radii.
        """
        return (WPLUS, *(noise_key(i) for i in range(self.config.num_layers)))

    # -- PULSE's Gaussian fit of the mapping output -----------------------------------------

    def gaussian_fit(
        self, samples: int = 100_000, *, seed: int = 0, chunk: int = 10_000, cache: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean ``[D]`` and covariance ``[D, D]`` of ``leaky_relu(w, 5)`` for ``w = mapping(z)``
        (:class:`~invprob.generator.HasGaussianFit`; ``chunk`` and ``cache`` are this model's own).

        ``leaky_relu(., 5)`` inverts the mapping's last activation (slope 0.2), so the result is
        close to Gaussian; PULSE searches in that space. Computed in chunks of ``chunk`` draws
        from a seeded CPU generator (in float64 sums), and cached for the checkpoint's contents
        (its sha256) in :func:`cache_folder`: never beside the weights, which may be shared
        data, and never reused for a changed file of the same name.
        """
        path = None
        if cache and self.source is not None and self.source.is_file():
            recorded = weights.record(self.source)  # in a run, hashed once when the checkpoint was loaded
            digest = recorded.sha256 if recorded is not None else weights.sha256_of(self.source)
            path = cache_folder() / "stylegan2" / f"gaussian-fit-{digest}-{samples}-{seed}.safetensors"
            if path.is_file():
                from safetensors.torch import load_file

                cached = load_file(str(path))
                return cached["mean"].to(self.latent_avg), cached["covariance"].to(self.latent_avg)
        rng = seeding.make_rng(seed)
        dim = self.config.style_dim
        total = torch.zeros(dim, dtype=torch.float64)
        outer = torch.zeros(dim, dim, dtype=torch.float64)
        done = 0
        with torch.no_grad():
            while done < samples:
                n = min(chunk, samples - done)
                x = F.leaky_relu(self.sample_w(n, rng), negative_slope=5.0).double().cpu()
                total += x.sum(0)
                outer += x.T @ x
                done += n
        mean = total / samples
        covariance = (outer - samples * torch.outer(mean, mean)) / (samples - 1)
        mean, covariance = mean.float(), covariance.float()
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                metadata = {"samples": str(samples), "seed": str(seed), "checkpoint": str(self.source)}
                weights.save_safetensors({"mean": mean, "covariance": covariance}, path, metadata)
            except OSError:
                pass  # no writable cache: the fit is recomputed next time
        return mean.to(self.latent_avg), covariance.to(self.latent_avg)


def mean_latent(network: StyleGAN2Network, samples: int = 4096, *, seed: int = 0) -> torch.Tensor:
    """``latent_avg``: the mean mapping output over ``samples`` seeded z (rosinality's ``mean_latent``)."""
    device = network.input.input.device
    with torch.no_grad():
        z = seeding.randn((samples, network.config.style_dim), seeding.make_rng(seed), device=device)
        return network.get_latent(z).mean(0, keepdim=True)


def random_stylegan2(
    config: StyleGAN2Config, *, seed: int = 0, discriminator: bool = True, **options
) -> StyleGAN2Generator:
    """A randomly initialised StyleGAN2 with upstream's initialisers (seeded), and its latent_avg."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = StyleGAN2Network(config)
        disc = StyleGAN2Discriminator(config) if discriminator else None
    return StyleGAN2Generator(network, disc, mean_latent(network, 4096, seed=seed), **options)


def cache_folder() -> Path:
    """Where statistics computed from a checkpoint are kept: ``$INVPROB_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/invprob``, else ``~/.cache/invprob``."""
    if os.environ.get("INVPROB_CACHE_DIR"):
        return Path(os.environ["INVPROB_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "invprob"
