"""DIP's skip network equals the authors' ``skip()`` on the same weights and input.

The fixtures were made by running DIP's official ``models/skip.py`` (DmitryUlyanov/deep-image-prior
@ 042e0d4) with random weights: ``benchmarks/parity/dip_parity.py``, README in
``tests/fixtures/parity/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from invprob_plugin_lcm_solvers.dip import SkipConfig, skip_forward

FIXTURES = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "parity" / "dip"
NAMES = ["zero-nearest", "reflection-bilinear", "no-1x1-up"]


def _fixture(name: str) -> tuple[SkipConfig, dict[str, torch.Tensor]]:
    path = FIXTURES / f"{name}.safetensors"
    with safe_open(str(path), "pt") as file:
        meta = json.loads(file.metadata()["config"])
    config = SkipConfig(
        input_depth=meta["input_depth"],
        down=tuple(meta["down"]),
        up=tuple(meta["up"]),
        skip=tuple(meta["skip"]),
        pad=meta["pad"],
        upsample=meta["upsample_mode"],
        up_1x1=meta["need1x1_up"],
    )
    return config, load_file(str(path))


@pytest.mark.parametrize("grouped", [False, True], ids=["loop", "grouped"])
@pytest.mark.parametrize("name", NAMES)
def test_the_skip_network_matches_the_official_code(name, grouped):
    config, tensors = _fixture(name)
    weights = {key: value for key, value in tensors.items() if key not in ("input", "output")}
    assert set(weights) == set(config.shapes()), "the official network has other layers than ours"
    for key, shape in config.shapes().items():
        assert tuple(weights[key].shape[1:]) == shape, key
    ours = skip_forward(config, weights, tensors["input"], grouped=grouped)
    official = tensors["output"] * 2 - 1  # our images are in [-1, 1], the sigmoid's in [0, 1]
    # float32 convolutions summed in another order (the official pads inside Conv2d, we pad first)
    # and batch norms over few pixels: measured <= 1.2e-7 absolute on images in [-1, 1] (1 and 2 threads); 1e-5 is
    # the bound and over 10x that.
    torch.testing.assert_close(ours, official, rtol=1e-5, atol=1e-5)


def test_the_parity_check_has_teeth_without_the_1x1_decoder_convs():
    config, tensors = _fixture("zero-nearest")
    weights = {key: value for key, value in tensors.items() if "up1x1" not in key and key not in ("input", "output")}
    without = SkipConfig(**{**config.__dict__, "up_1x1": False})
    ours = skip_forward(without, weights, tensors["input"])
    assert (ours - (tensors["output"] * 2 - 1)).abs().max() > 1e-2
