"""Reference tensors for LCM made by the authors' own code (not run in CI; fetches nothing).

    python benchmarks/parity/lcm_parity.py PATH/TO/Latent_Convolutional_Models [--out tests/fixtures/parity]

``PATH`` is a checkout of https://github.com/srxdev0619/Latent_Convolutional_Models (the fixtures
in the repository were made from commit 7295ecb5c55ee313aaefd6d9cdd4f1b5f70dc5c7). The script
imports ``src/models.py``, ``src/latent_models.py`` and ``src/custom_losses.py`` and runs, on
the CPU with fixed seeds:

- ``Latent4LSND`` (f_phi) as published, on s = U(0, 1) * 0.1 of 2x40x40 (``get_noise``);
- ``EncDecCelebA`` (g_theta) at 128 px with 64 latent channels, in eval and train mode, its widths
  divided by 16 (see the shims) and batch-norm statistics/affines drawn at random;
- ``laploss`` on random image pairs (one value per pair);
- three steps of ``inpaint()`` from ``src/inpainting.py`` (SGD lr 1.0 on every image's f,
  Lap-L1 + MSE with the 5x band, box clamp 0.01) for 2 images, with the per-step losses.

Shims, all listed here and nothing else changed:

1. ``torchvision`` (imported by ``custom_losses.py`` but unused by ``laploss``) is a stub module.
2. ``EncDecCelebA``'s width literals (1024, 512, 256, 128, 64, 32, and ``groups=512``) are divided
   by 16 through the syntax tree of ``models.py`` before it is executed (a 38 M-parameter net
   would make a 150 MB fixture); the structure, kernel sizes, strides, dilations and order are
   untouched. Ours with ``width=8`` is the same net.
3. ``inpaint()`` and ``make_mask()`` are taken from ``inpainting.py`` by their syntax trees (the
   module itself loads checkpoints and a data folder at import): ``batch_size = 50`` becomes 2,
   ``data_reader.get_batch_from`` returns the fixture's images and freshly seeded
   ``Latent4LSND`` nets (their conv weights drawn inside the box, so that our solver's initial
   projection leaves them unchanged), the ``SummaryWriter`` records the scalars, ``imsave``
   does nothing, ``.to(device)`` runs on the CPU.

Outputs (safetensors, float32): ``lcm_fphi``, ``lcm_gtheta``, ``lcm_lapl1``, ``lcm_restore``, and
``lcm_meta.json`` with the commit, torch version and shapes.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import types
from pathlib import Path

import torch
from safetensors.torch import save_file

SCALE = 16
WIDTHS = {1024, 512, 256, 128, 64, 32}
BATCH = 2
STEPS = 3


def _stub_torchvision() -> None:
    module = types.ModuleType("torchvision")
    for name in ("datasets", "transforms", "utils"):
        setattr(module, name, types.ModuleType(f"torchvision.{name}"))
        sys.modules[f"torchvision.{name}"] = getattr(module, name)
    sys.modules["torchvision"] = module


class _Narrow(ast.NodeTransformer):
    """Divides the width literals inside ``EncDecCelebA.__init__`` by ``SCALE`` (shim 2)."""

    def __init__(self) -> None:
        self.inside = False

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.inside = node.name == "__init__"
        self.generic_visit(node)
        self.inside = False
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if self.inside and isinstance(node.value, int) and node.value in WIDTHS:
            return ast.copy_location(ast.Constant(node.value // SCALE), node)
        return node


def load_official(root: Path) -> types.SimpleNamespace:
    src = root / "src"
    sys.path.insert(0, str(src))
    _stub_torchvision()
    import custom_losses  # noqa: PLC0415
    import latent_models  # noqa: PLC0415
    import models  # noqa: PLC0415

    tree = ast.parse((src / "models.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "EncDecCelebA":
            _Narrow().visit(node)
    narrow: dict = {}
    exec(compile(ast.fix_missing_locations(tree), str(src / "models.py"), "exec"), narrow)  # noqa: S102
    return types.SimpleNamespace(
        EncDecCelebA=narrow["EncDecCelebA"],
        full_EncDecCelebA=models.EncDecCelebA,
        Latent4LSND=latent_models.Latent4LSND,
        laploss=custom_losses.laploss,
        src=src,
    )


def _randomise_batch_norms(module: torch.nn.Module, rng: torch.Generator) -> None:
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=rng) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=rng) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=rng) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=rng) + 0.5)


def _prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().float().contiguous() for k, v in state.items() if v.dtype.is_floating_point}


def make_fphi(official) -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    net = official.Latent4LSND()
    _randomise_batch_norms(net, torch.Generator().manual_seed(2))
    s = torch.rand(1, 2, 40, 40, generator=torch.Generator().manual_seed(3)) * 0.1
    with torch.no_grad():
        out = net.train()(s)  # batch norm in training mode, as in training and restoration
    return {"s": s, "output": out, **_prefixed("net", net.state_dict())}


def make_gtheta(official) -> dict[str, torch.Tensor]:
    torch.manual_seed(4)
    g = official.EncDecCelebA(in_channels=64)
    _randomise_batch_norms(g, torch.Generator().manual_seed(5))
    z = torch.randn(1, 64, 32, 32, generator=torch.Generator().manual_seed(6)) * 0.5
    with torch.no_grad():
        out_eval = g.eval()(z)
        state = {k: v.clone() for k, v in g.state_dict().items()}
        out_train = g.train()(z)  # updates the running statistics: saved before
    return {"z": z, "output_eval": out_eval, "output_train": out_train, **_prefixed("g", state)}


def make_lapl1(official) -> dict[str, torch.Tensor]:
    rng = torch.Generator().manual_seed(7)
    tensors: dict[str, torch.Tensor] = {}
    for name, shape in {"a": (3, 3, 64, 64), "b": (2, 1, 37, 29), "c": (1, 3, 128, 128)}.items():
        x1, x2 = torch.rand(shape, generator=rng), torch.rand(shape, generator=rng)
        values = torch.stack([official.laploss(x1[i : i + 1], x2[i : i + 1]) for i in range(shape[0])])
        tensors |= {f"{name}.x1": x1, f"{name}.x2": x2, f"{name}.value": values.reshape(-1)}
    return tensors


class _Writer:
    def __init__(self) -> None:
        self.scalars: dict[str, list[float]] = {}

    def add_scalar(self, tag: str, value, step) -> None:
        self.scalars.setdefault(tag, []).append(float(value))

    def add_image(self, *args, **kwargs) -> None:
        pass


class _Reader:
    def __init__(self, official, data: torch.Tensor, nets_seed: int) -> None:
        self.official, self.data, self.nets_seed = official, data, nets_seed

    def get_batch_from(self, start, batch_size=10):
        torch.manual_seed(self.nets_seed)
        nets = [self.official.Latent4LSND() for _ in range(batch_size)]
        rng = torch.Generator().manual_seed(self.nets_seed + 1)
        for net in nets:
            _randomise_batch_norms(net, rng)
            net.restrict(-0.01, 0.01)  # shim 3: start inside the box
        return self.data[:batch_size], nets, None


def make_restore(official, gtheta: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    tree = ast.parse((official.src / "inpainting.py").read_text())
    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in ("make_mask", "inpaint")]
    for node in ast.walk(ast.Module(body=functions, type_ignores=[])):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "batch_size" for t in node.targets):
            node.value = ast.Constant(BATCH)  # shim 3: batch_size = 50 -> BATCH
    g = official.EncDecCelebA(in_channels=64)  # the weights and statistics of lcm_gtheta
    g.load_state_dict({k[2:]: v for k, v in gtheta.items() if k.startswith("g.")}, strict=False)
    data = torch.rand(BATCH, 3, 128, 128, generator=torch.Generator().manual_seed(8))
    s = torch.rand(1, 2, 40, 40, generator=torch.Generator().manual_seed(9)) * 0.1
    writer = _Writer()
    reader = _Reader(official, data, nets_seed=10)
    _, initial, _ = reader.get_batch_from(0, BATCH)
    captured: dict[str, list] = {"nets": []}
    namespace = {
        "np": __import__("numpy"), "torch": torch, "F": torch.nn.functional, "optim": torch.optim,
        "os": types.SimpleNamespace(path=types.SimpleNamespace(exists=lambda p: True), makedirs=lambda p: None),
        "skimage": types.SimpleNamespace(io=types.SimpleNamespace(imsave=lambda *a, **k: None)),
        "G": g, "data_reader": reader, "writer": writer, "device": torch.device("cpu"), "IMG_DIR": "",
        "hole_size": 50, "SEED": 42, "RESTRICT": True, "RESTRICT_VAL": 0.01, "L2_W": 0.0,
        "laploss": official.laploss,
    }  # fmt: skip
    exec(compile(ast.fix_missing_locations(ast.Module(body=functions, type_ignores=[])), "inpainting.py", "exec"), namespace)  # noqa: S102

    original_get = reader.get_batch_from

    def get_and_keep(start, batch_size=10):
        out = original_get(start, batch_size)
        captured["nets"] = out[1]
        return out

    reader.get_batch_from = get_and_keep
    namespace["inpaint"](s, STEPS)
    mask, band = namespace["make_mask"](data.shape, 50, extreme=False, seed=42)
    nets = captured["nets"]
    with torch.no_grad():
        final = g.eval()(torch.cat([net(s) for net in nets]))
    tensors = {
        "s": s, "data": data, "mask": mask[:1, :1].contiguous(), "band": band[:1, :1].contiguous(), "output_final": final,
        "loss": torch.tensor(writer.scalars["ep_z_loss"]), "loss_lap": torch.tensor(writer.scalars["ep_z_loss_Lap"]),
        "loss_mse": torch.tensor(writer.scalars["ep_z_loss_MSE"]),
    }  # fmt: skip
    for index, (start_net, end_net) in enumerate(zip(initial, nets)):
        tensors |= _prefixed(f"phi0.{index}", start_net.state_dict()) | _prefixed(f"phi.{index}", end_net.state_dict())
    return tensors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("official", type=Path, help="a checkout of srxdev0619/Latent_Convolutional_Models")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "parity")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    official = load_official(args.official)
    args.out.mkdir(parents=True, exist_ok=True)
    gtheta = make_gtheta(official)
    outputs = {"lcm_fphi": make_fphi(official), "lcm_gtheta": gtheta, "lcm_lapl1": make_lapl1(official)}
    outputs["lcm_restore"] = make_restore(official, gtheta)
    for name, tensors in outputs.items():
        save_file({k: v.contiguous() for k, v in tensors.items()}, args.out / f"{name}.safetensors")
    try:
        commit = subprocess.run(["git", "-C", str(args.official), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    meta = {
        "official": "https://github.com/srxdev0619/Latent_Convolutional_Models",
        "commit": commit or "7295ecb5c55ee313aaefd6d9cdd4f1b5f70dc5c7 (an exported tree: recorded by hand)",
        "torch": torch.__version__,
        "width_divisor": SCALE,
        "restore": {"batch": BATCH, "steps": STEPS, "hole": 50, "band": 5},
        "files": {name: {k: list(v.shape) for k, v in t.items()} for name, t in outputs.items()},
    }
    (args.out / "lcm_meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {', '.join(outputs)} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
