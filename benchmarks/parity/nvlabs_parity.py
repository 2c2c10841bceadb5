"""Parity fixture for the NVlabs ``.pkl`` loader, made with NVlabs' own stylegan2-ada-pytorch code.

Not run in CI. It fetches nothing: pass the path of a copy of the official code
(https://github.com/NVlabs/stylegan2-ada-pytorch; the commit the committed fixture was made
with is in ``tests/fixtures/parity/nvlabs/README.md``)::

    python benchmarks/parity/nvlabs_parity.py /path/to/stylegan2-ada-pytorch --commit <sha>

It builds two tiny networks with the official, unmodified ``training/networks.py`` on CPU
(where its custom ops take their reference implementations), perturbs their weights, writes
each as a training snapshot exactly as ``training/training_loop.py`` does (``pickle.dump`` of
``{training_set_kwargs, G, D, G_ema, augment_pipe}``, networks pickled by
``torch_utils.persistence``) and computes reference outputs with the official code:

- ``clamp``: 32×32, ``conv_clamp=256`` in G and D (as every stylegan2-ada-pytorch training
  sets it), ``num_fp16_res=4``, minibatch-stddev group 4; the constant input and the images
  fed to D are scaled so that the clamp engages (the script asserts it changes G's images
  and D's logits);
- ``maplr``: 16×16, mapping ``lr_multiplier=0.1``, 4 mapping layers, no clamp (``--fp32``
  settings), minibatch-stddev group ``None`` (the whole batch; D is evaluated on 8 images).

References (``<name>.safetensors``): ``z``, ``w`` (mapping output), ``img_z`` and
``img_z_trunc`` (psi 0.7) from z, ``wplus`` (style-mixed, perturbed w+) and ``img_wplus``,
``d_in`` and ``d_logits``; images with ``noise_mode='const'`` and ``force_fp32=True`` (the
fp16 path is CUDA mixed precision; our loader computes in float32).

Shims (none changes what the official code computes):

1. ``requests`` and ``distutils.util.strtobool`` are stubbed when they cannot be imported
   (``dnnlib/util.py`` imports them for downloads and option parsing only; Python >= 3.12
   has no ``distutils``).
2. Before ``pickle.dump``, the ``module_src`` every persistent class stores (the full source
   of ``training/networks.py`` and ``training/augment.py``) is replaced by one line that
   raises: the committed fixture must not carry NVIDIA's source code. Everything else in the
   pickle is what a training snapshot holds. The script checks, before the replacement, that
   the same pickle with the real source, loaded back by NVlabs' own unpickling, reproduces
   the references exactly.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "parity" / "nvlabs"
TRUNCATION = 0.7
SOURCE_REMOVED = (
    "raise ImportError('invprob parity fixture: the source of this module (NVlabs stylegan2-ada-pytorch {commit}) "
    "was left out of the pickle; see tests/fixtures/parity/nvlabs/README.md')\n"
)


def import_official(code: Path) -> types.SimpleNamespace:
    """``training.networks``, ``training.augment``, ``torch_utils.persistence`` from ``code`` (shim 1)."""
    if not (code / "training" / "networks.py").is_file():
        raise SystemExit(f"error: {code} is not a stylegan2-ada-pytorch checkout (no training/networks.py)")
    try:
        import requests  # noqa: F401
    except ImportError:
        sys.modules["requests"] = types.ModuleType("requests")
    try:
        from distutils.util import strtobool  # noqa: F401
    except ImportError:
        distutils, util = types.ModuleType("distutils"), types.ModuleType("distutils.util")
        util.strtobool = lambda value: {"y": 1, "yes": 1, "t": 1, "true": 1, "on": 1, "1": 1}.get(str(value).lower(), 0)
        distutils.util = util
        sys.modules.update({"distutils": distutils, "distutils.util": util})
    sys.path.insert(0, str(code))
    import dnnlib
    from torch_utils import persistence
    from training import augment, networks

    return types.SimpleNamespace(dnnlib=dnnlib, persistence=persistence, networks=networks, augment=augment)


def perturb(module: torch.nn.Module, generator: torch.Generator, scale: float) -> None:
    """Move every parameter off its initial value (zero biases and noise strengths, unit affine biases)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("noise_strength"):
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
            else:
                p.add_(torch.randn(p.shape, generator=generator) * scale)


def build(nv: types.SimpleNamespace, name: str, seed: int) -> dict[str, object]:
    """G, D, G_ema, augment_pipe and their settings for fixture ``name``."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    if name == "clamp":
        res, mapping, clamp, fp16, group = 32, dict(num_layers=2), 256, 4, 4
    else:
        res, mapping, clamp, fp16, group = 16, dict(num_layers=4, lr_multiplier=0.1), None, 0, None
    common = dict(c_dim=0, img_resolution=res, img_channels=3)
    synthesis = dict(channel_base=256, channel_max=16, num_fp16_res=fp16, conv_clamp=clamp)
    G = nv.networks.Generator(z_dim=32, w_dim=32, mapping_kwargs=mapping, synthesis_kwargs=synthesis, **common)
    D = nv.networks.Discriminator(channel_base=256, channel_max=16, num_fp16_res=fp16, conv_clamp=clamp,
                                  epilogue_kwargs=dict(mbstd_group_size=group), **common)
    perturb(G, gen, 0.2)
    perturb(D, gen, 0.2)
    with torch.no_grad():
        for fc in range(G.mapping.num_layers):  # mapping biases large enough that bias_gain matters
            getattr(G.mapping, f"fc{fc}").bias.copy_(torch.randn(32, generator=gen) * 3)
        if clamp is not None:
            G.synthesis.b4.const.mul_(120.0)  # activations of a few hundred: the clamp engages
    G.eval()
    with torch.no_grad():  # w_avg as training tracks it: the mean mapping output
        G.mapping.w_avg.copy_(G.mapping(torch.randn(2000, 32, generator=gen), None)[:, 0].mean(0))
    G_ema = copy.deepcopy(G).eval()
    perturb(G, gen, 0.05)  # the training G differs from G_ema: the loader must read G_ema
    augment_pipe = nv.augment.AugmentPipe(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
                                          brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
    return dict(G=G, D=D, G_ema=G_ema, augment_pipe=augment_pipe, res=res, clamp=clamp, d_batch=4 if group else 8)


@torch.no_grad()
def references(G_ema, D, res: int, d_batch: int, seed: int) -> dict[str, torch.Tensor]:
    """Official outputs for fixed inputs (const noise, float32)."""
    gen = torch.Generator().manual_seed(seed + 1)
    z = torch.randn(4, G_ema.z_dim, generator=gen)
    ws = G_ema.mapping(z, None)
    z2 = torch.randn(4, G_ema.z_dim, generator=gen)
    wplus = ws.clone()
    wplus[:, G_ema.num_ws // 2 :] = G_ema.mapping(z2, None)[:, G_ema.num_ws // 2 :]  # style mixing
    wplus = wplus + 0.3 * torch.randn(wplus.shape, generator=gen)
    out = {
        "z": z,
        "w": ws[:, 0].contiguous(),
        "img_z": G_ema(z, None, truncation_psi=1, noise_mode="const", force_fp32=True),
        "img_z_trunc": G_ema(z, None, truncation_psi=TRUNCATION, noise_mode="const", force_fp32=True),
        "wplus": wplus.contiguous(),
        "img_wplus": G_ema.synthesis(wplus, noise_mode="const", force_fp32=True),
    }
    zd = torch.randn(d_batch, G_ema.z_dim, generator=gen)
    out["d_in"] = G_ema(zd, None, noise_mode="const", force_fp32=True).contiguous()
    out["d_logits"] = D(out["d_in"], None, force_fp32=True)
    return out


@torch.no_grad()
def clamp_engagement(G_ema, D, refs: dict[str, torch.Tensor], clamp: float) -> dict[str, float]:
    """Assert that ``conv_clamp`` changes the official outputs; the share of clamped activations."""
    hits, total = [0], [0]

    def count(module, args, output):
        limit = module.conv_clamp * (1 if type(module).__name__ != "Conv2dLayer" or module.down == 1 else np.sqrt(0.5))
        hits[0] += int((output.abs() >= limit * (1 - 1e-6)).sum())
        total[0] += output.numel()

    hooks = [m.register_forward_hook(count) for m in [*G_ema.modules(), *D.modules()] if getattr(m, "conv_clamp", None)]
    G_ema(refs["z"], None, noise_mode="const", force_fp32=True)
    D(refs["d_in"], None, force_fp32=True)
    for hook in hooks:
        hook.remove()
    unclamped_g, unclamped_d = copy.deepcopy(G_ema), copy.deepcopy(D)
    for module in [*unclamped_g.modules(), *unclamped_d.modules()]:
        if hasattr(module, "conv_clamp"):
            module.conv_clamp = None
    g_diff = float((unclamped_g(refs["z"], None, noise_mode="const", force_fp32=True) - refs["img_z"]).abs().max())
    d_diff = float((unclamped_d(refs["d_in"], None, force_fp32=True) - refs["d_logits"]).abs().max())
    assert g_diff > 1.0, f"conv_clamp={clamp} does not change G's images (max |diff| {g_diff})"
    assert d_diff > 1.0, f"conv_clamp={clamp} does not change D's logits (max |diff| {d_diff})"
    return {"clamped_share": hits[0] / total[0], "g_max_abs_diff_without_clamp": g_diff, "d_max_abs_diff_without_clamp": d_diff}


def snapshot(nets: dict[str, object], name: str) -> dict[str, object]:
    """What ``training_loop.py`` pickles: deep copies in eval mode, no gradients, on the CPU."""
    data: dict[str, object] = dict(training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset",
                                                            path=f"~/datasets/{name}.zip", use_labels=False,
                                                            max_size=1000, xflip=False, resolution=nets["res"]))
    for key in ("G", "D", "G_ema", "augment_pipe"):
        data[key] = copy.deepcopy(nets[key]).eval().requires_grad_(False).cpu()
    return data


def check_round_trip(data: dict[str, object], refs: dict[str, torch.Tensor], res: int, d_batch: int, seed: int) -> None:
    """The snapshot, loaded back by NVlabs' own unpickling (real source), reproduces the references exactly."""
    loaded = pickle.loads(pickle.dumps(data))
    again = references(loaded["G_ema"], loaded["D"], res, d_batch, seed)
    for key, value in refs.items():
        torch.testing.assert_close(again[key], value, rtol=0, atol=0, msg=f"round trip changed {key}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("code", type=Path, help="a copy of NVlabs/stylegan2-ada-pytorch (its root folder)")
    parser.add_argument("--commit", default="unknown", help="the commit of that copy (written into the fixture)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    nv = import_official(args.code.resolve())
    args.out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, object] = {"commit": args.commit, "torch": torch.__version__, "numpy": np.__version__, "fixtures": {}}
    pickles: dict[str, bytes] = {}
    for seed, name in enumerate(("clamp", "maplr")):
        nets = build(nv, name, seed)
        refs = references(nets["G_ema"], nets["D"], nets["res"], nets["d_batch"], seed)
        entry: dict[str, object] = {"resolution": nets["res"], "conv_clamp": nets["clamp"], "truncation": TRUNCATION,
                                    "mapping_lr_multiplier": float(nets["G_ema"].mapping.fc0.bias_gain),
                                    "mbstd_group_size": nets["D"].b4.mbstd.group_size, "d_batch": nets["d_batch"]}
        if nets["clamp"] is not None:
            entry.update(clamp_engagement(nets["G_ema"], nets["D"], refs, nets["clamp"]))
        data = snapshot(nets, name)
        check_round_trip(data, refs, nets["res"], nets["d_batch"], seed)
        pickles[name] = data  # dumped below, once the source is replaced
        save_file({k: v.contiguous() for k, v in refs.items()}, str(args.out / f"{name}.safetensors"),
                  metadata={"commit": args.commit, "truncation": str(TRUNCATION)})
        manifest["fixtures"][name] = entry
    for cls in nv.persistence._decorators:  # shim 2: no NVIDIA source code in the committed pickles
        cls._orig_module_src = SOURCE_REMOVED.format(commit=args.commit)
    for name, data in pickles.items():
        buffer = io.BytesIO()
        pickle.dump(data, buffer)
        (args.out / f"network-snapshot-{name}.pkl").write_bytes(buffer.getvalue())
        manifest["fixtures"][name]["pkl_bytes"] = len(buffer.getvalue())
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
