"""Parity fixture for DIP's skip network, made by the authors' own ``skip()``.

    # the official code, at the commit the fixture was made with (the `fetch` tool, or git clone):
    #   DmitryUlyanov/deep-image-prior @ 042e0d4c1e93f4b1eb0932781de55b8cff5e0f40
    .venv/bin/python benchmarks/parity/dip_parity.py --official PATH/TO/deep-image-prior

Builds tiny networks with ``models.skip.skip`` of the official code, unmodified (imported from
``--official``; no shim: it runs on the CPU as it is), draws every weight and batch-norm
affine parameter at random with a fixed seed, runs it in training mode (as DIP fits it) on DIP's
``get_noise`` input ``U(0, 1) / 10``, and writes, per configuration, the weights under
invprob's names, the input and the output to
``tests/fixtures/parity/dip/<name>.safetensors``. Nothing is fetched at run time.
The test ``plugins/solvers/lcm-solvers/tests/test_dip_parity.py`` loads the weights into
``invprob_plugin_lcm_solvers.dip.skip_forward`` and compares images.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "parity" / "dip"

# name: (skip() keyword arguments, image side). Ours on the left of each pair: the official
# default (zero padding, nearest) and invprob's default (reflection, bilinear), a scale without
# a skip branch, and need1x1_up off.
CONFIGS = {
    "zero-nearest": (dict(num_channels_down=[8, 16, 16], num_channels_up=[8, 16, 16], num_channels_skip=[2, 2, 2], pad="zero", upsample_mode="nearest"), 16),
    "reflection-bilinear": (dict(num_channels_down=[8, 16, 16], num_channels_up=[8, 16, 16], num_channels_skip=[2, 0, 4], pad="reflection", upsample_mode="bilinear"), 16),
    "no-1x1-up": (dict(num_channels_down=[4, 8], num_channels_up=[6, 8], num_channels_skip=[2, 2], pad="reflection", upsample_mode="bilinear", need1x1_up=False), 8),
}
INPUT_DEPTH = 32


def _conv(module: nn.Module) -> nn.Conv2d:
    (conv,) = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    return conv


def _put(out: dict[str, torch.Tensor], name: str, module: nn.Module) -> None:
    out[f"{name}.weight"] = module.weight.detach().clone().unsqueeze(0)
    out[f"{name}.bias"] = module.bias.detach().clone().unsqueeze(0)


def _scale(level: nn.Sequential, i: int, skips: list[int], need1x1: bool, out: dict[str, torch.Tensor]) -> None:
    """Read scale ``i`` of ``skip()``'s nesting: [Concat(skip, deeper) | deeper, bn, conv, bn, act, (conv1x1, bn, act)]."""
    children = list(level.children())
    if skips[i]:
        skip_branch, deeper = list(children[0].children())
        skip_parts = list(skip_branch.children())
        _put(out, f"s{i}.skip", _conv(skip_parts[0]))
        _put(out, f"s{i}.skip_bn", skip_parts[1])
    else:
        deeper = children[0]
    parts = list(deeper.children())  # conv(stride 2), bn, act, conv, bn, act, [deeper_main], upsample
    _put(out, f"s{i}.down", _conv(parts[0]))
    _put(out, f"s{i}.down_bn", parts[1])
    _put(out, f"s{i}.conv", _conv(parts[3]))
    _put(out, f"s{i}.conv_bn", parts[4])
    if len(parts) == 8:
        _scale(parts[6], i + 1, skips, need1x1, out)
    _put(out, f"s{i}.cat_bn", children[1])
    _put(out, f"s{i}.up", _conv(children[2]))
    _put(out, f"s{i}.up_bn", children[3])
    if need1x1:
        _put(out, f"s{i}.up1x1", _conv(children[5]))
        _put(out, f"s{i}.up1x1_bn", children[6])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", type=Path, required=True, help="a checkout of DmitryUlyanov/deep-image-prior")
    args = parser.parse_args()
    sys.path.insert(0, str(args.official))
    from models.skip import skip  # the authors' code

    OUT.mkdir(parents=True, exist_ok=True)
    for index, (name, (kwargs, side)) in enumerate(CONFIGS.items()):
        torch.manual_seed(1000 + index)
        net = skip(INPUT_DEPTH, 3, need_sigmoid=True, need_bias=True, act_fun="LeakyReLU", **kwargs)
        with torch.no_grad():
            for parameter in net.parameters():  # batch norm's 1 and 0 too: every parameter matters
                parameter.uniform_(-0.5, 0.5)
        net.train()
        noise = torch.rand(1, INPUT_DEPTH, side, side) / 10  # get_noise(..., 'noise', var=1/10), 'u'
        with torch.no_grad():
            image = net(noise)
        tensors: dict[str, torch.Tensor] = {}
        level = net  # scale 0 is the top Sequential; its last two children are the head conv and the sigmoid
        _scale(level, 0, kwargs["num_channels_skip"], kwargs.get("need1x1_up", True), tensors)
        _put(tensors, "head", _conv(list(net.children())[-2]))
        tensors["input"] = noise
        tensors["output"] = image  # in [0, 1]: the sigmoid's
        config = {key: kwargs.get(key) for key in ("pad", "upsample_mode")} | {
            "down": kwargs["num_channels_down"], "up": kwargs["num_channels_up"], "skip": kwargs["num_channels_skip"],
            "need1x1_up": kwargs.get("need1x1_up", True), "input_depth": INPUT_DEPTH,
        }
        save_file({k: v.contiguous() for k, v in tensors.items()}, OUT / f"{name}.safetensors", metadata={"config": json.dumps(config)})
        print(f"{name}: {sum(v.numel() for v in tensors.values())} numbers -> {OUT / (name + '.safetensors')}")


if __name__ == "__main__":
    main()
