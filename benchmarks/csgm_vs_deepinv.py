"""CSGM on held-out 32x32 faces with 80% of the pixels missing: invprob's recipe against deepinv.

    # invprob only (the project's .venv): the recipe as it stands, and any weight/lr variants
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/csgm_vs_deepinv.py
    # both, in a benchmark venv that has deepinv and invprob (+ plugins) installed editable
    OMP_NUM_THREADS=1 nice -n 10 ../correctness-deepinv/bin/python benchmarks/csgm_vs_deepinv.py --deepinv

Task (the same for both): the recipe ``recipes/csgm-inpaint-dcgan32.yaml`` with its operator
replaced by ``inpaint-random`` with ``observed: 0.2`` (one pixel mask drawn from the recipe's
seed, shared by every face), the held-out faces (the highest ids of
``../shared/data/celeba64/celeba32.npz``, ``--faces`` of them) and ``--steps`` iterations.
invprob runs the recipe's own CSGM solver with the recipe's priors and losses (``--variant``
adds runs with other ``gaussian-norm`` weights / learning rates). deepinv runs
``deepinv.models.CSGMGenerator`` (Adam at lr 0.01 on a latent started from U(-1, 1), its own
loss: ``torch.nn.MSELoss``, the mean of ``(A G(z) - y)^2`` over the measurement entries, as
invprob's ``mse``; no latent prior) on the same generator, observation and mask, with
``inf_tol=0`` so that it takes exactly ``--steps`` iterations, one start per face, seeded.
PSNR is on the [0, 1] scale (invprob.metrics.psnr), mean over the faces.

Without deepinv importable, ``--deepinv`` prints why and the invprob rows run alone. Timings
are not reported (a shared machine); ``--out`` writes a Markdown table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "csgm-inpaint-dcgan32.yaml"


def task_overrides(steps: int, faces: int) -> list[str]:
    return [
        "operator.type=inpaint-random",
        "operator.params={observed: 0.2}",
        f"solver.params.steps={steps}",
        f'data.select="-{faces}:"',
        f"data.batch_size={faces}",
    ]


def solve_invprob(extra: list[str], steps: int, faces: int):
    """(mean PSNR, per-face PSNR, components, truth, observation) of the recipe with ``extra`` overrides."""
    import invprob
    from invprob.app.execute import load_inputs, solve_batches
    from invprob.metrics import psnr

    recipe = invprob.load_recipe(RECIPE, [*task_overrides(steps, faces), *extra])
    components = invprob.build(recipe, device="cpu")
    inputs = load_inputs(components)
    solved = solve_batches(components, inputs, show_progress=False)
    (result,) = solved.results
    values = psnr(result.best_image, inputs.truth)
    return values.mean().item(), values.tolist(), components, inputs.truth, solved.observations[0]


class _DeepinvGenerator(torch.nn.Module):
    """invprob's generator as deepinv's CSGMGenerator expects it: ``nz`` and ``forward(z)``."""

    def __init__(self, generator):
        super().__init__()
        self.generator = generator
        self.nz = generator.primary_latent.shape[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z.reshape(z.shape[0], -1))


def solve_deepinv(components, truth, observation, steps: int, seed: int):
    import deepinv

    from invprob.metrics import psnr

    mask = components.operator.observed_mask().detach().cpu()
    physics = deepinv.physics.Inpainting(img_size=tuple(truth.shape[1:]), mask=mask.expand(1, *truth.shape[1:])[0])
    backbone = _DeepinvGenerator(components.generator).eval().requires_grad_(False)
    model = deepinv.models.CSGMGenerator(backbone, inf_max_iter=steps, inf_tol=0.0, inf_lr=1e-2).eval()
    images = []
    for index in range(truth.shape[0]):  # deepinv draws one latent per call, for the whole batch
        torch.manual_seed(seed + index)
        with torch.enable_grad():
            images.append(model(observation[index : index + 1], physics).detach())
    values = psnr(torch.cat(images).clamp(-1, 1), truth)
    return values.mean().item(), values.tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--faces", type=int, default=8)
    parser.add_argument("--deepinv", action="store_true", help="also run deepinv's CSGM (needs deepinv installed)")
    parser.add_argument(
        "--variant", action="append", default=[], metavar="OVERRIDES",
        help="another invprob row: space-separated recipe overrides, e.g. 'priors[0].params.weight=3e-7'",
    )
    parser.add_argument("--out", type=Path, help="write the table here (Markdown)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not (REPO.parent / "shared" / "weights" / "dcgan32-celeba" / "generator.pt").is_file():
        print("skipped: ../shared (the dcgan32-celeba weights and the celeba32 faces) is not beside the checkout")
        return

    rows = []
    started = time.perf_counter()
    mean, per_face, components, truth, observation = solve_invprob([], args.steps, args.faces)
    priors = [f"{p['type']} {p.get('params', {})}" for p in components.recipe.model_dump()["priors"]]
    rows.append(("invprob csgm, recipe as committed", f"{', '.join(priors) or 'no prior'}; "
                 f"lr {components.recipe.solver.params['lr']}, restarts {components.recipe.solver.params['restarts']}",
                 mean, per_face))
    print(f"{rows[-1][0]}: {mean:.2f} dB  ({rows[-1][1]})", flush=True)
    for variant in args.variant:
        mean, per_face, *_ = solve_invprob(variant.split(), args.steps, args.faces)
        rows.append(("invprob csgm", variant, mean, per_face))
        print(f"invprob csgm {variant}: {mean:.2f} dB", flush=True)
    if args.deepinv:
        try:
            import deepinv
        except ImportError as exc:
            print(f"deepinv is not installed here ({exc}); its row is skipped. Install it in a separate venv: "
                  "see this script's docstring")
        else:
            mean, per_face = solve_deepinv(components, truth, observation, args.steps, seed=0)
            rows.append((f"deepinv {deepinv.__version__} CSGMGenerator", "Adam lr 0.01, U(-1, 1) start, 1 start, "
                         "MSE (mean), no latent prior", mean, per_face))
            print(f"{rows[-1][0]}: {mean:.2f} dB", flush=True)

    lines = [
        f"# CSGM, {args.faces} held-out 32x32 faces (celeba32.npz, highest ids), 80% pixels missing "
        f"(inpaint-random observed 0.2, one mask from seed 0), {args.steps} iterations",
        "",
        f"torch {torch.__version__}, 1 thread; {time.perf_counter() - started:.0f} s in all on a shared 2-core "
        "machine (timings not compared). PSNR in dB on the [0, 1] scale, mean over the faces.",
        "",
        "| method | settings | mean PSNR | per face |",
        "|---|---|---|---|",
    ]
    for name, settings, mean, per_face in rows:
        lines.append(f"| {name} | {settings} | {mean:.2f} | {' '.join(f'{v:.1f}' for v in per_face)} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
