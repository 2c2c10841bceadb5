"""The LPIPS loss: real computation with a random backbone, weight lookup errors, agreement with lpips."""

from __future__ import annotations

import importlib.util
import re
import sys
import types

import pytest
import torch

from invprob.testing.toys import MaskOperator
from invprob.weights import WeightsNotFoundError, save_safetensors
from invprob_plugin_lpips.loss import BACKBONE_FILES, LPIPSLoss, build_lpips

needs_lpips = pytest.mark.skipif(importlib.util.find_spec("lpips") is None, reason="pip package lpips not installed")


def _images(batch: int, size: int, seed: int) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@needs_lpips
def test_distance_is_zero_for_identical_images_and_positive_otherwise():
    loss = build_lpips("vgg", random_backbone=True)
    x, y = _images(2, 16, 0), _images(2, 16, 1)
    same = loss(x, x, MaskOperator())
    different = loss(x, y, MaskOperator())
    assert same.shape == (2,) and torch.all(same.abs() < 1e-6)
    assert torch.all(different > 0)


@needs_lpips
def test_gradients_reach_the_prediction_and_never_the_network():
    loss = build_lpips("alex", random_backbone=True)
    x = _images(1, 32, 0).requires_grad_(True)
    loss(x, _images(1, 32, 1), MaskOperator((3, 32, 32))).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in loss.parameters())


@needs_lpips
def test_grey_images_are_compared_as_rgb():
    loss = build_lpips("vgg", random_backbone=True)
    x, y = _images(1, 16, 0)[:, :1], _images(1, 16, 1)[:, :1]
    torch.testing.assert_close(loss.distance(x, y), loss.distance(x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1)))


@needs_lpips
def test_too_small_measurements_name_the_smallest_size():
    with pytest.raises(ValueError, match="at least 31x31"):
        build_lpips("alex", random_backbone=True).distance(_images(1, 16, 0), _images(1, 16, 1))


@needs_lpips
def test_missing_backbone_says_which_file_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(WeightsNotFoundError) as error:
        build_lpips("alex")
    message = str(error.value)
    assert f"{BACKBONE_FILES['alex']}, looked for in {tmp_path / 'hub' / 'checkpoints'}:" in message
    assert "\n" not in message


@needs_lpips
def test_a_given_backbone_path_that_is_missing_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "alex.pth"
    with pytest.raises(WeightsNotFoundError, match=re.escape(f"not found at {missing}")):
        build_lpips("alex", backbone_weights=missing)


@needs_lpips
def test_backbone_loads_from_a_torchvision_layout_checkpoint(tmp_path):
    reference = LPIPSLoss("alex")
    state = {f"features.{k}": v.clone() for k, v in reference.features.state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(2, 2)  # the classifier head is ignored
    path = tmp_path / BACKBONE_FILES["alex"]
    torch.save(state, path)
    loss = build_lpips("alex", backbone_weights=path)
    for key, value in reference.features.state_dict().items():
        torch.testing.assert_close(loss.features.state_dict()[key], value)


def test_backbone_with_wrong_shapes_gives_a_readable_diff(tmp_path):
    from invprob.weights import WeightsMismatchError

    path = tmp_path / "bad.safetensors"
    save_safetensors({"features.0.weight": torch.zeros(1, 3, 11, 11)}, path)
    with pytest.raises(WeightsMismatchError, match="shape mismatch"):
        LPIPSLoss("alex").load_backbone(path)


@needs_lpips
def test_agrees_with_the_lpips_package_on_the_same_weights(monkeypatch):
    """lpips.LPIPS builds its backbone through torchvision; hand it ours through a stub module."""
    ours = build_lpips("alex", random_backbone=True)
    stub = types.ModuleType("torchvision")
    stub.models = types.SimpleNamespace(alexnet=lambda pretrained=False: types.SimpleNamespace(features=ours.features))
    monkeypatch.setitem(sys.modules, "torchvision", stub)
    for name in [n for n in sys.modules if n == "lpips" or n.startswith("lpips.")]:
        monkeypatch.delitem(sys.modules, name)
    try:
        import lpips

        theirs = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
        x, y = _images(3, 40, 0), _images(3, 40, 1)
        torch.testing.assert_close(ours.distance(x, y), theirs(x, y).reshape(-1), rtol=1e-5, atol=1e-7)
    finally:
        for name in [n for n in sys.modules if n == "lpips" or n.startswith("lpips.")]:
            del sys.modules[name]


def test_a_size_compares_both_sides_resized():
    import torch

    from invprob_plugin_lpips.loss import LPIPSLoss

    torch.manual_seed(0)
    loss = LPIPSLoss("vgg", size=32)
    x, y = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    small = torch.nn.functional.interpolate
    expected = loss.distance(small(x, size=(32, 32), mode="area"), small(y, size=(32, 32), mode="area"))
    torch.testing.assert_close(loss(x, y, None), expected)
    assert loss(x[:, :, :16, :16], y[:, :, :16, :16], None).shape == (2,)  # upsampled to 32
