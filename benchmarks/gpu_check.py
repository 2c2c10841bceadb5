"""The whole GPU verification in one run, with one Markdown summary (``benchmarks/gpu_check.sh``).

    benchmarks/gpu_check.sh [--short] [--out DIR]

On a machine with an NVIDIA GPU (H100/H200: sm_90), in order, each step with its own time limit
so that the whole stays under 8 minutes (``--short``: about 3):

1. build invprob-plugin-cuda's compiled part ahead of time (``setup.py build_ext --inplace``,
   ``TORCH_CUDA_ARCH_LIST`` from the device, 9.0 on H100/H200), put on ``PYTHONPATH`` for the
   steps below;
2. ``pytest -m gpu`` over the repository;
3. ``benchmarks/bench_cuda_ops.py`` (``--quick`` with ``--short``);
4. ``benchmarks/bench_ilo_stylegan2.py --size 1024 --device cuda`` (random weights, the
   appendix's steps 300 200 200 100; ``--short``: 30 20 20 10);
5. ``benchmarks/bench_optimise_step.py --batch 256 --device cuda``: the optimisation loop against
   a bare autograd + Adam step, measured in the same run;
6. three recipes (``demo``: Yeh inpainting; ``ilo-cs-circulant-dcgan64``: ILO with the circulant
   sensing and l1-ball kernels; ``csgm-cs-circulant-dcgan64``) with few steps on one image, on
   CPU and on CUDA from the same seed: their PSNRs and the largest pixel difference.

A step that would run past the 8 minutes is cut at the deadline (and the ones after it are
skipped), so the whole never takes longer; the summary says which.

Every step's output goes into ``DIR/summary.md`` (default ``runs/gpu-check-<UTC time>/``, git-ignored; an existing
folder is refused) with its exit status and time; a failing step does not stop the others and
makes the exit status 1. Without a GPU it says so in one line, runs the CUDA plugin's CPU tests
(the numpy models of the kernels against exact references; ``--short``: the exactness and
input-check tests only) and exits 0 when they pass.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "plugins" / "operators" / "cuda"
NESTED = "INVPROB_GPU_CHECK_NESTED"  # set for the children: a test that runs this script skips itself there
RECIPES = ("demo", "ilo-cs-circulant-dcgan64", "csgm-cs-circulant-dcgan64")
BUDGET_S = 8 * 60


@dataclass
class Step:
    title: str
    command: list[str]
    limit_s: int
    env: dict[str, str] | None = None
    cwd: Path = ROOT
    status: str = "not run"
    seconds: float = 0.0
    output: str = ""


def run_step(step: Step, log_dir: Path, deadline: float) -> Step:
    """Run ``step`` within its limit and what is left of the budget; record its output."""
    limit = max(1, min(step.limit_s, int(deadline - time.monotonic())))
    env = {**os.environ, NESTED: "1", **(step.env or {})}
    started = time.monotonic()
    try:
        done = subprocess.run(step.command, cwd=step.cwd, env=env, capture_output=True, text=True, timeout=limit)
        step.output = done.stdout + done.stderr
        step.status = "passed" if done.returncode == 0 else f"failed (exit {done.returncode})"
    except subprocess.TimeoutExpired as exc:
        step.output = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        step.status = f"timed out after {limit} s"
    step.seconds = time.monotonic() - started
    (log_dir / f"{len(list(log_dir.glob('*.log'))):02d}.log").write_text(f"$ {' '.join(step.command)}\n{step.output}")
    print(f"gpu_check: {step.title}: {step.status} ({step.seconds:.0f} s)", flush=True)
    return step


def tail(text: str, lines: int = 60) -> str:
    kept = text.strip().splitlines()
    return "\n".join(kept[-lines:])


def device_line(python: str) -> tuple[bool, str]:
    """(a CUDA device is usable, one line describing the machine)."""
    probe = (
        "import json, torch; ok = torch.cuda.is_available(); "
        "print(json.dumps({'ok': ok, 'name': torch.cuda.get_device_name() if ok else None, "
        "'cap': list(torch.cuda.get_device_capability()) if ok else None, "
        "'torch': torch.__version__, 'cuda': torch.version.cuda}))"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return False, f"torch does not import: {tail(done.stderr, 1)}"
    info = json.loads(done.stdout.strip().splitlines()[-1])
    if not info["ok"]:
        return False, f"torch {info['torch']} sees no CUDA device"
    return True, f"{info['name']} (sm_{info['cap'][0]}{info['cap'][1]}), torch {info['torch']}, CUDA {info['cuda']}"


def recipe_step(python: str, recipe: str, device: str, out: Path, short: bool) -> Step:
    steps = {"demo": "solver.params.steps=60" if short else "solver.params.steps=200",
             "ilo-cs-circulant-dcgan64": "solver.params.steps=[10,5,5,5]" if short else "solver.params.steps=[60,40,40,20]",
             "csgm-cs-circulant-dcgan64": "solver.params.steps=40" if short else "solver.params.steps=160"}  # fmt: skip
    one_image = [] if recipe == "demo" else ["data.images=recipes/images/astronaut-face64.png", "~data.select",
                                             "data.batch_size=1"]  # fmt: skip
    overrides = [steps[recipe], *one_image, "outputs.gif=false"]
    command = [python, "-c", "import sys; from invprob.app.cli import main; sys.exit(main())", "run",
               f"recipes/{recipe}.yaml", *overrides, "--device", device,
               "--out", str(out), "--name", f"{recipe}-{device}", "--quiet"]  # fmt: skip
    return Step(f"recipe {recipe} on {device}", command, 60)


def compare_recipes(out: Path) -> str:
    """A Markdown table: per recipe, PSNR on CPU and CUDA and the largest reconstruction difference."""
    import numpy as np
    from PIL import Image

    rows = ["| recipe | PSNR CPU | PSNR CUDA | max abs pixel difference (0-255) |", "|---|---|---|---|"]
    for recipe in RECIPES:
        cells = []
        images = []
        for device in ("cpu", "cuda"):
            run = out / f"{recipe}-{device}"
            try:
                metrics = json.loads((run / "metrics.json").read_text())
                cells.append(f"{metrics['mean']['psnr']:.3f}")
            except (OSError, KeyError, ValueError) as exc:
                cells.append(f"n/a ({type(exc).__name__})")
            found = sorted((run / "images").glob("*_reconstruction.png")) if (run / "images").is_dir() else []
            images.append(np.asarray(Image.open(found[0]), dtype=np.int16) if found else None)
        difference = "n/a" if any(i is None for i in images) else str(int(np.abs(images[0] - images[1]).max()))
        rows.append(f"| {recipe} | {cells[0]} | {cells[1]} | {difference} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="fewer sizes and steps (about 3 minutes on an H100)")
    parser.add_argument("--out", type=Path, help="folder for summary.md and the logs (default runs/gpu-check-<UTC time>)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter for every step")
    args = parser.parse_args(argv)
    out = args.out or ROOT / "runs" / datetime.now(timezone.utc).strftime("gpu-check-%Y%m%d-%H%M%S")
    if out.exists():
        print(f"gpu_check: {out} exists; pass another --out (a check never overwrites an earlier one)", file=sys.stderr)
        return 2
    (out / "logs").mkdir(parents=True)
    deadline = time.monotonic() + BUDGET_S
    python = args.python
    has_gpu, machine = device_line(python)
    steps: list[Step] = []
    extra: list[str] = []
    if not has_gpu:
        print(f"gpu_check: no CUDA GPU here ({machine}): GPU steps skipped, running the CUDA plugin's CPU tests only")
        subset = ["-k", "issue_23 or projects_exactly or refused"] if args.short else []
        steps.append(Step("CUDA plugin CPU tests (kernel models)", [python, "-m", "pytest", "-q", "-m", "not gpu",
                                                                    *subset, str(PLUGIN / "tests")], 300))  # fmt: skip
    else:
        capability = machine.split("(sm_")[1][:2]
        arch = f"{capability[0]}.{capability[1]}"
        plugin_path = {"PYTHONPATH": f"{PLUGIN}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        build_env = {"INVPROB_CUDA_BUILD": "1", "TORCH_CUDA_ARCH_LIST": arch, "MAX_JOBS": str(os.cpu_count() or 4)}
        steps.append(Step(f"build the CUDA plugin ahead of time (sm_{capability})",
                          [python, "setup.py", "-q", "build_ext", "--inplace"], 240, build_env, PLUGIN))  # fmt: skip
        steps.append(Step("pytest -m gpu (whole repository)", [python, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider"],
                          150 if args.short else 200, plugin_path))  # fmt: skip
        steps.append(Step("benchmarks/bench_cuda_ops.py", [python, "benchmarks/bench_cuda_ops.py",
                                                          *(["--quick"] if args.short else [])], 90, plugin_path))  # fmt: skip
        ilo_steps = ["30", "20", "20", "10"] if args.short else ["300", "200", "200", "100"]
        steps.append(Step("StyleGAN2 ILO at 1024 px (random weights)", [python, "benchmarks/bench_ilo_stylegan2.py",
                          "--size", "1024", "--device", "cuda", "--steps", *ilo_steps, "--range-steps",
                          "10" if args.short else "100"], 150, plugin_path))  # fmt: skip
        steps.append(Step("optimisation loop at batch 256 vs bare Adam", [python, "benchmarks/bench_optimise_step.py",
                          "--batch", "256", "--device", "cuda", "--steps", "10" if args.short else "20",
                          "--repeats", "2" if args.short else "3"], 60, plugin_path))  # fmt: skip
        for recipe in RECIPES:
            for device in ("cpu", "cuda"):
                step = recipe_step(python, recipe, device, out / "runs", args.short)
                step.env = plugin_path
                steps.append(step)
    for step in steps:
        if time.monotonic() >= deadline:
            step.status = "skipped: the 8-minute budget is spent"
            print(f"gpu_check: {step.title}: {step.status}", flush=True)
            continue
        run_step(step, out / "logs", deadline)
    if has_gpu:
        extra = ["## CPU vs CUDA, same seed", "", compare_recipes(out / "runs"), ""]
    lines = [
        f"# GPU check, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC{' (--short)' if args.short else ''}",
        "",
        f"Machine: {machine}. {'' if has_gpu else 'No CUDA GPU: the GPU steps did not run.'}",
        "",
        "| step | status | seconds |",
        "|---|---|---|",
        *[f"| {s.title} | {s.status} | {s.seconds:.0f} |" for s in steps],
        "",
        *extra,
    ]
    for step in steps:
        lines += [f"## {step.title}", "", f"`{' '.join(step.command)}`: {step.status}", "", "```", tail(step.output), "```", ""]
    (out / "summary.md").write_text("\n".join(lines))
    print(f"gpu_check: summary in {out / 'summary.md'}")
    failed = [s for s in steps if s.status != "passed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
