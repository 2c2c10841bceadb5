"""Reference trajectories of the official ILO code (giannisdaras/ilo) on the tiny StyleGAN2 fixture.

Not run in CI. Runs ``ilo_stylegan.LatentOptimizer`` unmodified except for the shims listed in
``tests/fixtures/parity/README.md`` (CPU, the 32-px fixture generator instead of the 1024-px
one, no LPIPS network since its weight is 0), and writes ``tests/fixtures/parity/ilo.safetensors``:
the inputs (target, Gaussian fit, downsampler matrices, initial latent and noise maps) and,
for every round, the variables before each step and after the last one (after the sphere and
l1 projections), the learning rates, the MSE and geocross terms, and which noise maps the
round optimises.

    python benchmarks/parity/ilo_parity.py --ilo /tmp/ilo --rosinality /tmp/rosinality \\
        --fixture ../shared/fixtures/stylegan2

``--ilo``: a checkout of giannisdaras/ilo (commit 08a88f2ae0f6530211be93a0deed502d38a871bd);
``--rosinality``: a checkout of rosinality/stylegan2-pytorch (bef283a1c24087da704d16c30abc8e36e63efa0e),
for its CPU ``op`` package.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from official_shims import (  # noqa: E402
    N_LATENT, N_MLP, SIZE, STYLE_DIM, downsample_matrices, gaussian_fit, install_cpu_ops, install_torchvision_stub, load_source,
    tiny_rosinality_model,
)

STEPS = [4, 4, 4]
IMAGE = 8  # super-resolution x4 of the 32-px generator
RADII = {"latent": [2.0, 3.0, 4.0], "noises": [1.0, 2.0, 3.0], "gen_out": [0.0, 20.0, 40.0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ilo", type=Path, required=True)
    parser.add_argument("--rosinality", type=Path, required=True)
    parser.add_argument("--fixture", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "tests/fixtures/parity/ilo.safetensors")
    args = parser.parse_args()
    torch.set_num_threads(1)

    install_cpu_ops(args.rosinality)
    install_torchvision_stub()
    model = tiny_rosinality_model(args.ilo / "model.py")
    sys.modules["lpips"] = types.SimpleNamespace(PerceptualLoss=lambda **kwargs: _no_lpips)
    sys.path.insert(0, str(args.ilo))
    import utils  # the official utils.py (l1 projection, BicubicDownSample)

    ilo = load_source("ilo_stylegan", args.ilo / "ilo_stylegan.py", [
        ("Generator(1024, 512, 8)", f"Generator({SIZE}, {STYLE_DIM}, {N_MLP})"),
        ("(bs, 18, 512),", f"(bs, {N_LATENT}, {STYLE_DIM}),"),
        ("requires_grad=True, device='cuda')", "requires_grad=True, device='cpu')"),
        ("if latent.size() == (1, 512):", f"if latent.size() == (1, {STYLE_DIM}):"),
        ("X = latent.view(-1, 1, num_latents, 512)", f"X = latent.view(-1, 1, num_latents, {STYLE_DIM})"),
        ("Y = latent.view(-1, num_latents, 1, 512)", f"Y = latent.view(-1, num_latents, 1, {STYLE_DIM})"),
        ("D = ((D.pow(2) * 512)", f"D = ((D.pow(2) * {STYLE_DIM})"),
    ])
    ilo.BicubicDownSample = lambda factor, **kw: utils.BicubicDownSample(max(1, factor * SIZE // 1024), cuda=False)

    work = Path(tempfile.mkdtemp())
    generator = model.Generator(SIZE, STYLE_DIM, N_MLP)
    checkpoint = torch.load(args.fixture / "checkpoint.pt", weights_only=True)
    generator.load_state_dict(checkpoint["g_ema"], strict=True)  # the official code loads with strict=False
    fit = gaussian_fit(generator)
    torch.save(fit, work / "gaussian_fit.pt")
    target = _target(generator, work)
    config = {
        "device": "cpu", "ckpt": str(args.fixture / "checkpoint.pt"), "geocross": 0.01,
        "mse": [1.0] * 3, "pe": [0.0] * 3, "dead_zone_linear": [0.0] * 3, "dead_zone_linear_alpha": 0.1,
        "reference_loss": 0.0, "lpips_method": "fill", "fast_compress": False, "observed_percentage": 80,
        "image_size": [IMAGE, IMAGE], "mask_black_pixels": False, "steps": STEPS, "project": True,
        "lr": [0.1] * 3, "lr_same_pace": False, "start_layer": 0, "end_layer": 8, "restore": False,
        "do_project_gen_out": True, "do_project_noises": True, "do_project_latent": True,
        "max_radius_gen_out": RADII["gen_out"], "max_radius_noises": RADII["noises"],
        "max_radius_latent": RADII["latent"], "save_gif": False, "save_every": 50, "save_on_ref": False,
        "input_files": [str(target)], "seed": 42,
    }
    record = Recorder()
    record.install(ilo)
    os.chdir(work)  # the official code reads gaussian_fit.pt from the working directory
    torch.manual_seed(config["seed"])
    np.random.seed(config["seed"])
    optimizer = ilo.LatentOptimizer(config)
    _check_generator(optimizer.gen, args.fixture)
    original, _, best = optimizer.invert()

    r, c = downsample_matrices(optimizer.downsampler_1024_image, SIZE)
    tensors = {"target": original.contiguous(), "fit_mean": fit["mean"], "fit_std": fit["std"], "down_rows": r, "down_cols": c,
               "best": best.contiguous()}
    tensors.update(record.tensors())
    meta = {"official": "giannisdaras/ilo@08a88f2ae0f6530211be93a0deed502d38a871bd", "steps": json.dumps(STEPS),
            "lr": "0.1", "geocross": "0.01", "radii": json.dumps(RADII), "optimised_noises": json.dumps(record.noise_lists),
            "torch": torch.__version__}
    from safetensors.torch import save_file

    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().float().contiguous() for k, v in tensors.items()}, str(args.out), meta)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes); mse per round:",
          [[round(x, 5) for x in m] for m in record.mse])


def _no_lpips(*args, **kwargs):
    raise RuntimeError("LPIPS is not part of this fixture (pe = 0)")


def _target(generator, work: Path) -> Path:
    """An 8x8 picture: the generator's image of a seeded w, bicubically reduced, saved as PNG."""
    with torch.no_grad():
        torch.manual_seed(7)
        w = generator.get_latent(torch.randn(1, STYLE_DIM))
        image = generator([w], input_is_latent=True, randomize_noise=False)[0].clamp(-1, 1)
        small = F.interpolate(image, size=(IMAGE, IMAGE), mode="bicubic", antialias=True, align_corners=False)
    array = ((small[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
    path = work / "target.png"
    Image.fromarray(array).save(path)
    return path


def _check_generator(gen, fixture: Path) -> None:
    """The shimmed official generator reproduces the fixture's reference image."""
    from safetensors.torch import load_file

    reference = load_file(str(fixture / "reference.safetensors"))
    with torch.no_grad():
        gen.start_layer, gen.end_layer = 0, 8
        image, _ = gen([reference["wplus"]], input_is_latent=True, randomize_noise=False)
    error = (image - reference["img_wplus"]).abs().max().item()
    if error > 1e-4:
        raise SystemExit(f"the shimmed generator differs from the fixture's reference by {error}")
    print(f"shimmed official generator vs fixture reference: max |diff| {error:.2e}")


class Recorder:
    """Hooks on the official optimiser: the state before every step (``get_lr`` is called
    first in each step) and after every round, and the loss terms it computes."""

    def __init__(self):
        self.rounds: list[dict] = []
        self.mse: list[list[float]] = []
        self.noise_lists: list[list[int]] = []

    def install(self, ilo) -> None:
        recorder = self
        cls = ilo.LatentOptimizer
        get_lr, invert_ = cls.get_lr, cls.invert_

        def recording_get_lr(self, t, initial_lr, **kw):
            lr = get_lr(self, t, initial_lr, **kw)
            recorder.snapshot(self, lr)
            return lr

        def recording_invert(self, start_layer, noise_list, steps, index, reference_vector=None):
            recorder.rounds.append({"states": [], "lr": [], "geocross": [], "gen_out": start_layer != 0})
            recorder.mse.append([])
            recorder.noise_lists.append(list(noise_list))
            out = invert_(self, start_layer, noise_list, steps, index, reference_vector)
            gen_outs = self.gen_outs
            self.gen_outs = gen_outs[:-1]  # the state the round ended in, before the next round's input is appended
            recorder.snapshot(self, None)
            self.gen_outs = gen_outs
            return out

        cls.get_lr, cls.invert_ = recording_get_lr, recording_invert
        geocross = ilo.loss_geocross

        def recording_geocross(latent):
            value = geocross(latent)
            recorder.rounds[-1]["geocross"].append(float(value) if torch.is_tensor(value) else float(value))
            return value

        ilo.loss_geocross = recording_geocross
        mse_loss = F.mse_loss

        class Functional:
            def __getattr__(self, name):
                return getattr(F, name)

            @staticmethod
            def mse_loss(a, b, *args, **kwargs):
                value = mse_loss(a, b, *args, **kwargs)
                recorder.mse[-1].append(float(value))
                return value

        ilo.F = Functional()

    def snapshot(self, optimizer, lr) -> None:
        state = {"latent": optimizer.latent_z.detach().clone()}
        for i, noise in enumerate(optimizer.noises):
            state[f"noise_{i}"] = noise.detach().clone()
        if optimizer.gen_outs[-1] is not None:
            state["gen_out"] = optimizer.gen_outs[-1].detach().clone()
        self.rounds[-1]["states"].append(state)
        if lr is not None:
            self.rounds[-1]["lr"].append(lr)

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        for k, round_ in enumerate(self.rounds):
            for name in round_["states"][0]:
                out[f"round{k}.{name}"] = torch.stack([s[name] for s in round_["states"]])
            out[f"round{k}.lr"] = torch.tensor(round_["lr"])
            out[f"round{k}.mse"] = torch.tensor(self.mse[k])
            out[f"round{k}.geocross"] = torch.tensor(round_["geocross"])
        return out


if __name__ == "__main__":
    main()
