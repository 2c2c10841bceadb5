"""Reference values of CSGM's objective made from Bora et al.'s code (not run in CI; fetches nothing).

    python benchmarks/parity/csgm_parity.py PATH/TO/csgm [--out tests/fixtures/parity]

``PATH`` is a checkout of https://github.com/AshishBora/csgm (the fixtures in the repository
were made from commit 0f77d9c749dd31ce03b104dc2d355267e3ced038).

What runs and what is rewritten:

- ``get_inpaint_mask`` and ``get_A_inpaint`` are executed from ``src/utils.py`` itself (numpy),
  cut out of the file's text by their ``def`` lines (the module imports TensorFlow 1 and has
  Python 2 ``print`` statements elsewhere, so it neither imports nor parses whole). One shim: the
  Python 2 integer division ``(image_size - inpaint_size) / 2`` is made ``//`` (the same value
  for the even sizes used here). ``get_A``'s Gaussian branch, ``np.random.randn(n_input,
  num_measurements)``, is that one numpy call, run with a fixed numpy seed.
- The objective is in ``dcgan_estimator`` of ``src/celebA_estimators.py``, a TensorFlow 1 graph
  in a Python 2 module: neither imports here (no TF 1 for this Python, and the module does not
  parse under Python 3). Its formula is transcribed literally, in numpy float64::

      y_hat_batch  = x_hat_batch @ A
      m_loss2_batch = mean((y_batch - y_hat_batch)**2, axis=1)
      zp_loss_batch = sum(z_batch**2, axis=1)
      total_loss_batch = mloss2_weight * m_loss2_batch + zprior_weight * zp_loss_batch

  (``mloss1``, ``dloss1``, ``dloss2`` weights 0, as in their CelebA scripts), with
  ``y_batch = x_batch @ A`` (noise 0).

Images are 32x32x3 in [-1, 1] (their layout: HWC, flattened), z has 100 entries (their DCGAN's).
Operators: centre inpainting with a 16x16 hole (75% observed) and Gaussian sensing with 50
measurements. Writes ``csgm_objective.safetensors`` and ``csgm_meta.json``.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import types
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

SIDE, CHANNELS, HOLE, MEASUREMENTS, BATCH, LATENT = 32, 3, 16, 50, 4, 100
MLOSS2_WEIGHT, ZPRIOR_WEIGHT = 1.0, 0.001  # their quick_scripts/celebA_reconstr.sh


class _Py2Division(ast.NodeTransformer):
    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Div):
            node.op = ast.FloorDiv()
        return node


def _top_level_functions(source: str, names: tuple[str, ...]) -> str:
    """The text of the named top-level functions (the module is Python 2: it does not parse whole)."""
    blocks = re.split(r"(?m)^(?=def |class |[A-Za-z_])", source)
    return "".join(b for b in blocks if any(b.startswith(f"def {name}(") for name in names))


def load_bora(root: Path) -> dict:
    source = _top_level_functions((root / "src" / "utils.py").read_text(), ("get_inpaint_mask", "get_A_inpaint"))
    tree = ast.parse(source)
    wanted = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert [n.name for n in wanted] == ["get_inpaint_mask", "get_A_inpaint"], [n.name for n in wanted]
    for node in wanted:
        if node.name == "get_inpaint_mask":
            _Py2Division().visit(node)
    namespace: dict = {"np": np}
    exec(compile(ast.fix_missing_locations(ast.Module(body=wanted, type_ignores=[])), "utils.py", "exec"), namespace)  # noqa: S102
    return namespace


def objective(x_hat: np.ndarray, x: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``dcgan_estimator``'s ``total_loss_batch``, transcribed (float64)."""
    y_batch = x @ a
    y_hat_batch = x_hat @ a
    m_loss2_batch = np.mean((y_batch - y_hat_batch) ** 2, axis=1)
    zp_loss_batch = np.sum(z**2, axis=1)
    return MLOSS2_WEIGHT * m_loss2_batch + ZPRIOR_WEIGHT * zp_loss_batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("official", type=Path, help="a checkout of AshishBora/csgm")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "parity")
    args = parser.parse_args(argv)
    bora = load_bora(args.official)
    n = SIDE * SIDE * CHANNELS
    hparams = types.SimpleNamespace(image_shape=(SIDE, SIDE, CHANNELS), inpaint_size=HOLE, n_input=n, num_measurements=MEASUREMENTS)
    a_inpaint = bora["get_A_inpaint"](hparams)  # [n, m]: columns of sqrt(n) e_i over the observed pixels
    np.random.seed(0)
    a_gaussian = np.random.randn(hparams.n_input, hparams.num_measurements)  # get_A, measurement_type 'gaussian'
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (BATCH, n))
    x_hat = np.clip(x + rng.normal(0, 0.3, (BATCH, n)), -1, 1)
    z = rng.normal(0, 1, (BATCH, LATENT))
    tensors = {
        "x_hwc": torch.tensor(x, dtype=torch.float32),
        "x_hat_hwc": torch.tensor(x_hat, dtype=torch.float32),
        "z": torch.tensor(z, dtype=torch.float32),
        "mask_hwc": torch.tensor(bora["get_inpaint_mask"](hparams), dtype=torch.float32),
        "gaussian_A": torch.tensor(a_gaussian, dtype=torch.float32),
    }
    # the objective of the float32-rounded inputs, in float64
    x32, xh32, z32, ag32 = (tensors[k].double().numpy() for k in ("x_hwc", "x_hat_hwc", "z", "gaussian_A"))
    tensors["inpaint_total"] = torch.tensor(objective(xh32, x32, z32, a_inpaint), dtype=torch.float64)
    tensors["gaussian_total"] = torch.tensor(objective(xh32, x32, z32, ag32), dtype=torch.float64)
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, args.out / "csgm_objective.safetensors")
    commit = subprocess.run(["git", "-C", str(args.official), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    meta = {
        "official": "https://github.com/AshishBora/csgm",
        "commit": commit or "0f77d9c749dd31ce03b104dc2d355267e3ced038 (an exported tree: recorded by hand)",
        "image": [SIDE, SIDE, CHANNELS], "hole": HOLE, "observed": int(a_inpaint.shape[1]), "gaussian_measurements": MEASUREMENTS,
        "mloss2_weight": MLOSS2_WEIGHT, "zprior_weight": ZPRIOR_WEIGHT,
    }  # fmt: skip
    (args.out / "csgm_meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote csgm_objective to {args.out}: inpaint m = {a_inpaint.shape[1]} of n = {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
