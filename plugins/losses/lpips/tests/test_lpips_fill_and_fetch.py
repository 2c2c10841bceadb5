"""LPIPS fill (inpainting) measures the observed pixels only; the backbone is fetched with its
hash checked, never loaded unverified, and the offline message stays what it was."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest
import torch

import invprob_plugin_lpips.loss as lpips_loss
from invprob.operator import Operator
from invprob.problem import InverseProblem, WeightedLoss
from invprob.weights import WeightsFileError, WeightsNotFoundError
from invprob_plugin_lpips.loss import BACKBONE_FILES, BACKBONE_URLS, LPIPSLoss, build_lpips, hash_prefix

needs_lpips = pytest.mark.skipif(importlib.util.find_spec("lpips") is None, reason="pip package lpips not installed")


class HalfMask(Operator):
    """Observes the left half of a 3x32x32 image."""

    def __init__(self) -> None:
        super().__init__()
        mask = torch.zeros(1, 1, 32, 32)
        mask[..., :16] = 1
        self.register_buffer("mask", mask)

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask

    def observed_mask(self) -> torch.Tensor:
        return self.mask


def _images(batch: int, seed: int) -> torch.Tensor:
    return torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@needs_lpips
def test_fill_ignores_the_holes_and_sees_the_observed_pixels():
    operator, loss = HalfMask(), build_lpips("vgg", random_backbone=True, fill=True)
    truth = _images(2, 0)
    observation = operator.A(truth)
    other_holes = truth.clone()
    other_holes[..., 16:] = _images(2, 1)[..., 16:]  # same observed half, anything in the hole
    other_seen = truth.clone()
    other_seen[..., :16] = _images(2, 2)[..., :16]  # the observed half differs
    same = loss(operator.A(other_holes), observation, operator, image=other_holes)
    assert torch.all(same.abs() < 1e-6), same
    assert torch.all(loss(operator.A(other_seen), observation, operator, image=other_seen) > 1e-3)
    # the plain loss on A(x) compares zero-filled holes; fill compares them filled with x
    plain = build_lpips("vgg", random_backbone=True)
    plain.load_state_dict(loss.state_dict())
    assert not torch.allclose(
        plain(operator.A(other_seen), observation, operator), loss(operator.A(other_seen), observation, operator, image=other_seen)
    )


@needs_lpips
def test_the_problem_passes_the_image_to_fill_and_the_gradient_reaches_the_observed_pixels():
    operator = HalfMask()
    truth = _images(1, 0)
    problem = InverseProblem(
        operator=operator, observation=operator.A(truth), image_shape=(3, 32, 32),
        losses=[WeightedLoss(1.0, build_lpips("vgg", random_backbone=True, fill=True))],
    )
    image = _images(2, 3).requires_grad_(True)  # two restarts of the one image
    (gradient,) = torch.autograd.grad(problem.measurement_loss(image).sum(), image)
    assert torch.isfinite(gradient).all() and gradient[..., :16].abs().sum() > 0


@needs_lpips
def test_fill_refuses_an_operator_without_a_mask_and_a_call_without_the_image():
    class Identity(Operator):
        def A(self, x: torch.Tensor) -> torch.Tensor:
            return x

    loss, x = build_lpips("vgg", random_backbone=True, fill=True), _images(1, 0)
    with pytest.raises(ValueError, match="Identity has no mask; use it with an inpainting operator"):
        loss(x, x, Identity(), image=x)
    with pytest.raises(ValueError, match="LPIPS fill needs the generated image itself"):
        loss(x, x, HalfMask())


def test_a_recipe_with_lpips_fill_needs_a_masking_operator():
    import invprob
    from invprob.recipe import RecipeError

    demo = Path(__file__).resolve().parents[4] / "recipes" / "demo.yaml"
    with pytest.raises(RecipeError, match="lpips-fill"):
        invprob.load_recipe(demo, ["operator={type: denoise, params: {sigma: 10}}", "losses=[{type: lpips-fill, params: {random_backbone: true}}]"])


def _torchvision_layout(path: Path) -> None:
    reference = LPIPSLoss("alex")
    torch.save({f"features.{k}": v.clone() for k, v in reference.features.state_dict().items()}, path)


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints" / BACKBONE_FILES["alex"]


def test_the_published_hash_prefixes_and_urls_are_torchvisions():
    assert hash_prefix("alex") == "7be5be79" and hash_prefix("vgg") == "397923af"
    assert BACKBONE_URLS["alex"] == "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"


@needs_lpips
def test_a_download_with_the_published_hash_is_kept_and_loaded(hub, tmp_path, monkeypatch):
    source = tmp_path / "served.pth"
    _torchvision_layout(source)
    fetched = []

    def serve(url: str, destination: Path, timeout: float) -> None:
        fetched.append((url, destination))
        destination.write_bytes(source.read_bytes())

    monkeypatch.setattr(lpips_loss, "_download", serve)
    monkeypatch.setattr(lpips_loss, "hash_prefix", lambda net: hashlib.sha256(source.read_bytes()).hexdigest()[:8])
    loss = build_lpips("alex")
    assert fetched == [(BACKBONE_URLS["alex"], hub.with_name(f".{hub.stem}.partial{hub.suffix}"))]
    assert hub.read_bytes() == source.read_bytes()
    torch.testing.assert_close(loss.features[0].weight, torch.load(source, weights_only=True)["features.0.weight"])
    build_lpips("alex")  # cached now: no second download
    assert len(fetched) == 1


@needs_lpips
def test_a_download_with_the_wrong_hash_is_deleted_unread(hub, tmp_path, monkeypatch):
    loaded = []
    monkeypatch.setattr(lpips_loss, "_download", lambda url, destination, timeout: _torchvision_layout(destination))
    monkeypatch.setattr(LPIPSLoss, "load_backbone", lambda self, path: loaded.append(path))
    with pytest.raises(WeightsFileError, match=r"has sha256 [0-9a-f]{16}\.\.\., not 7be5be79\.\.\. as torchvision publishes"):
        build_lpips("alex")
    assert not hub.exists() and not list(hub.parent.iterdir()) and loaded == []


@needs_lpips
def test_offline_the_message_says_which_file_to_put_where(hub, monkeypatch):
    import urllib.error

    def offline(url: str, destination: Path, timeout: float) -> None:
        destination.write_bytes(b"partial")
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(lpips_loss, "_download", offline)
    with pytest.raises(WeightsNotFoundError) as error:
        build_lpips("alex")
    assert str(error.value) == (
        f"LPIPS (alex) needs torchvision's ImageNet weights {BACKBONE_FILES['alex']}, looked for in {hub.parent}: "
        "put that file there or give its path as the 'backbone_weights' param"
    )
    assert not list(hub.parent.iterdir())  # the partial file is gone


@needs_lpips
def test_a_given_path_is_never_downloaded_to(tmp_path, monkeypatch):
    monkeypatch.setattr(lpips_loss, "_download", lambda *a: pytest.fail("downloaded"))
    with pytest.raises(WeightsNotFoundError, match="not found at"):
        build_lpips("alex", backbone_weights=tmp_path / "mine.pth")
