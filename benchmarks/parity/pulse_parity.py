"""Reference trajectory of the official PULSE code (adamian98/pulse) on the tiny StyleGAN2 fixture.

Not run in CI. Runs ``PULSE.PULSE.forward`` unmodified except for the shims listed in
``tests/fixtures/parity/README.md`` (CPU; the 32-px rosinality StyleGAN2 fixture behind
PULSE's ``G_synthesis`` interface instead of the 1024-px StyleGAN; its 8 w+ slots of 64
entries instead of 18 of 512), and writes ``tests/fixtures/parity/pulse.safetensors``: the
target, the Gaussian fit, the downsampler matrices, the initial latent and noise maps, and
per step the learning rate, the loss terms (L2, GEOCROSS, TOTAL) and the optimised variables
after the sphere projection.

    python benchmarks/parity/pulse_parity.py --pulse /tmp/pulse --rosinality /tmp/rosinality \\
        --fixture ../shared/fixtures/stylegan2

``--pulse``: a checkout of adamian98/pulse (commit 40cacb97df28081e0edf8440a8c3f7c4e6205732);
``--rosinality``: rosinality/stylegan2-pytorch (bef283a1c24087da704d16c30abc8e36e63efa0e), whose
``model.py`` and CPU ``op`` package run the fixture generator.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import types
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from official_shims import (  # noqa: E402
    N_LATENT, N_MLP, SIZE, STYLE_DIM, downsample_matrices, gaussian_fit, install_cpu_ops, load_source, tiny_rosinality_model,
)

STEPS, LR, EPS, IMAGE = 10, 0.4, 2e-3, 8
TRAINABLE = 6  # PULSE's noise list is StyleGAN1's (two per resolution from 4x4); its first 6 hold the fixture's first 5


class Synthesis(torch.nn.Module):
    """PULSE's ``G_synthesis(latent_in, noise)`` interface over the rosinality fixture generator.

    PULSE makes 18 noise maps in StyleGAN1's layout, resolution ``2**(i//2 + 2)``; the fixture's
    map ``j`` (resolution ``2**((j + 5)//2)``) is PULSE's map ``j + 1``, the same resolution.
    """

    def __init__(self, generator):
        super().__init__()
        self.g = generator
        self.noise_seen: list[torch.Tensor] | None = None

    def cuda(self):  # PULSE calls G_synthesis().cuda()
        return self

    def forward(self, latent, noise):
        if self.noise_seen is None:
            self.noise_seen = [n.detach().clone() for n in noise]
        maps = [noise[j + 1] for j in range(self.g.num_layers)]
        return self.g([latent], input_is_latent=True, noise=maps)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulse", type=Path, required=True)
    parser.add_argument("--rosinality", type=Path, required=True)
    parser.add_argument("--fixture", type=Path, required=True)
    parser.add_argument("--target", type=Path, default=Path(__file__).resolve().parents[2] / "tests/fixtures/parity/ilo.safetensors",
                        help="the ILO fixture, whose 8x8 target (the same picture) PULSE reconstructs")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "tests/fixtures/parity/pulse.safetensors")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from safetensors.torch import load_file, save_file

    install_cpu_ops(args.rosinality)
    model = tiny_rosinality_model(args.rosinality / "model.py")
    generator = model.Generator(SIZE, STYLE_DIM, N_MLP)
    checkpoint = torch.load(args.fixture / "checkpoint.pt", weights_only=True)
    generator.load_state_dict(checkpoint["g_ema"], strict=True)
    work = Path(tempfile.mkdtemp())
    torch.save(Synthesis(generator).state_dict(), work / "synthesis.pt")
    fit = gaussian_fit(generator)
    torch.save(fit, work / "gaussian_fit.pt")

    sys.modules["stylegan"] = types.SimpleNamespace(G_synthesis=lambda: Synthesis(model.Generator(SIZE, STYLE_DIM, N_MLP)), G_mapping=None)
    sys.modules["drive"] = types.SimpleNamespace(open_url=lambda *a, **k: contextlib.closing(open(work / "synthesis.pt", "rb")))
    sys.path.insert(0, str(args.pulse))
    bicubic = load_source("bicubic", args.pulse / "bicubic.py", [])
    spherical = load_source("SphericalOptimizer", args.pulse / "SphericalOptimizer.py", [])
    loss = load_source("loss", args.pulse / "loss.py", [
        ("X = latent.view(-1, 1, 18, 512)", f"X = latent.view(-1, 1, {N_LATENT}, {STYLE_DIM})"),
        ("Y = latent.view(-1, 18, 1, 512)", f"Y = latent.view(-1, {N_LATENT}, 1, {STYLE_DIM})"),
        ("D = ((D.pow(2)*512)", f"D = ((D.pow(2)*{STYLE_DIM})"),
    ])
    loss.BicubicDownSample = lambda factor, **kw: bicubic.BicubicDownSample(factor=max(1, factor * SIZE // 1024), cuda=False)
    pulse = load_source("PULSE", args.pulse / "PULSE.py", [
        ("device='cuda'", "device='cpu'"),  # every occurrence
        ("(batch_size, 18, 512)", f"(batch_size, {N_LATENT}, {STYLE_DIM})"),
        ("loss_builder = LossBuilder(ref_im, loss_str, eps).cuda()", "loss_builder = LossBuilder(ref_im, loss_str, eps)"),
    ])
    record = _Recorder()
    record.install(loss, spherical)

    os.chdir(work)  # PULSE reads gaussian_fit.pt from the working directory
    target = (load_file(str(args.target))["target"] + 1) / 2  # the official ILO's input picture, on [0, 1]
    model_ = pulse.PULSE(cache_dir=work / "cache", verbose=False)
    list(model_(target, seed=1, loss_str="100*L2+0.05*GEOCROSS", eps=EPS, noise_type="trainable",
                num_trainable_noise_layers=TRAINABLE, tile_latent=False, bad_noise_layers="17", opt_name="adam",
                learning_rate=LR, steps=STEPS, lr_schedule="linear1cycledrop", save_intermediate=False))
    noises = model_.synthesis.noise_seen
    rows, cols = downsample_matrices(loss.BicubicDownSample(factor=1024 // IMAGE), SIZE)
    tensors = {"target": target, "fit_mean": fit["mean"], "fit_std": fit["std"], "down_rows": rows, "down_cols": cols}
    tensors.update({f"start.noise_{j}": noises[j + 1] for j in range(generator.num_layers)})
    tensors.update(record.tensors())
    meta = {"official": "adamian98/pulse@40cacb97df28081e0edf8440a8c3f7c4e6205732", "steps": str(STEPS), "lr": str(LR),
            "eps": str(EPS), "loss_str": "100*L2+0.05*GEOCROSS", "lr_schedule": "linear1cycledrop",
            "optimised_noises": json.dumps(list(range(TRAINABLE - 1))), "torch": torch.__version__}
    save_file({k: v.detach().float().contiguous() for k, v in tensors.items()}, str(args.out), meta)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes); TOTAL per step:", [round(x, 4) for x in record.losses["TOTAL"]])


class _Recorder:
    """Hooks: the loss terms of every step (``LossBuilder.forward``), the learning rate and the
    variables after every sphere projection (``SphericalOptimizer.step``), and the start."""

    def __init__(self):
        self.losses: dict[str, list[float]] = {"L2": [], "GEOCROSS": [], "TOTAL": []}
        self.lr: list[float] = []
        self.states: list[list[torch.Tensor]] = []

    def install(self, loss, spherical) -> None:
        recorder = self
        forward = loss.LossBuilder.forward

        def recording_forward(self, latent, gen_im):
            total, terms = forward(self, latent, gen_im)
            recorder.losses["TOTAL"].append(float(total))
            for name in ("L2", "GEOCROSS"):
                recorder.losses[name].append(float(terms[name]))
            return total, terms

        loss.LossBuilder.forward = recording_forward
        cls = spherical.SphericalOptimizer
        init, step = cls.__init__, cls.step

        def recording_init(self, optimizer, params, **kwargs):
            init(self, optimizer, params, **kwargs)
            recorder.states.append([p.detach().clone() for p in params])

        def recording_step(self, closure=None):
            recorder.lr.append(self.opt.param_groups[0]["lr"])
            out = step(self, closure)
            recorder.states.append([p.detach().clone() for p in self.params])
            return out

        cls.__init__, cls.step = recording_init, recording_step

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {"latent": torch.stack([s[0] for s in self.states]), "lr": torch.tensor(self.lr)}
        for i in range(2, len(self.states[0])):  # params: latent, PULSE's noise 0 (unused), its noise j + 1 = fixture noise j
            out[f"noise_{i - 2}"] = torch.stack([s[i] for s in self.states])
        out.update({name: torch.tensor(values) for name, values in self.losses.items()})
        return out


if __name__ == "__main__":
    main()
