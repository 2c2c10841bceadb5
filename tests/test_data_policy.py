"""Images in: the fit policy on non-square images, reading by data type (16-bit PNG, float
TIFF, EXIF orientation), grey kept grey, and generator-free runs that keep every size."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import invprob
from invprob.images import DataError, decode_image, fit_image, load_images


def _gradient(height: int, width: int) -> np.ndarray:
    """An RGB uint8 image whose red grows along x and green along y (so a crop is visible)."""
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    return np.stack([x, y, np.full_like(x, 128)], axis=-1).round().astype(np.uint8)


@pytest.fixture
def wide(tmp_path):
    """A 96x48 (W x H) image: twice as wide as high, black with a centred white band 16 wide."""
    pixels = np.zeros((48, 96, 3), np.uint8)
    pixels[:, 40:56] = 255
    path = tmp_path / "wide.png"
    Image.fromarray(pixels).save(path)
    return path


def test_centre_crop_is_the_default_and_keeps_the_aspect_ratio(wide, tmp_path):
    lines = []
    batch = load_images(wide, (3, 16, 16), say=lines.append)
    image = batch.images[0]
    assert image.shape == (3, 16, 16)
    # the centre 48x48 is kept: the band is a third of its width, black either side
    assert (image[0, 8] > 0).sum() in (5, 6)
    assert image[:, :, 7:9].min() > 0.9 and image[:, :, :3].max() < -0.9 and image[:, :, -3:].max() < -0.9
    assert lines == ["data: centre-cropped to the generator's aspect ratio, then resized to 16x16: 1 image: wide (96x48)"]


def test_resize_stretches_and_says_the_aspect_ratio_changed(wide):
    lines = []
    image = load_images(wide, (3, 16, 16), fit="resize", say=lines.append).images[0]
    # the band stays a sixth of the whole width, squeezed horizontally by 2 more than vertically
    assert (image[0, 8] > 0).sum() in (2, 3) and image[:, :, :4].max() < -0.9
    assert lines == ["data: resized to 16x16, stretched: the aspect ratio changed: 1 image: wide (96x48)"]


def test_pad_keeps_everything_with_grey_bars(wide):
    lines = []
    image = load_images(wide, (3, 16, 16), fit="pad", say=lines.append).images[0]
    assert abs(image[:, 0, :].mean().item()) < 0.05 and abs(image[:, -1, :].mean().item()) < 0.05  # grey bars
    assert (image[0, 8] > 0).sum() in (2, 3)  # the band: a sixth of the width, as in the photo
    assert lines == ["data: padded with grey to the generator's aspect ratio, then resized to 16x16: 1 image: wide (96x48)"]


def test_refuse_names_the_image_and_the_sizes(wide):
    with pytest.raises(DataError, match=r"data.images: the image 'wide' is 96x48 \(W x H\) but the generator makes 16x16"):
        load_images(wide, (3, 16, 16), fit="refuse")
    assert load_images(wide, (3, 48, 96), fit="refuse").images.shape == (1, 3, 48, 96)


def test_several_images_of_one_change_share_one_line(tmp_path):
    for name, (height, width) in {"a": (30, 40), "b": (50, 40), "c": (20, 20)}.items():
        Image.fromarray(_gradient(height, width)).save(tmp_path / f"{name}.png")
    lines = []
    load_images(tmp_path, (3, 10, 10), say=lines.append)
    assert lines == [
        "data: centre-cropped to the generator's aspect ratio, then resized to 10x10: 2 images: a (40x30), b (40x50)",
        "data: resized to 10x10 (same aspect ratio): 1 image: c (20x20)",
    ]


def test_a_tall_target_crops_the_sides_of_a_wide_image():
    pixels = _gradient(40, 80).astype(np.float32) / 255
    image, change, _ = fit_image(pixels, (20, 10), 3, "centre-crop")
    assert change == ("centre-cropped to the generator's aspect ratio, then resized to 10x20", "80x40")
    red = (image[0] + 1) / 2  # red grows with x: the kept centre spans x in [30, 50) of 80
    assert 0.35 < red.min().item() < 0.42 and 0.58 < red.max().item() < 0.65


def test_a_16_bit_png_is_scaled_by_65535(tmp_path):
    values = np.array([[0, 16384, 32768, 65535]], dtype=np.uint16).repeat(4, 0)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    pixels = decode_image(path).pixels
    assert pixels.ndim == 2  # grey stays grey
    np.testing.assert_allclose(pixels[0], values[0] / 65535, atol=1e-6)
    image = load_images(path, None).images[0]
    assert image.shape == (1, 4, 4)
    np.testing.assert_allclose(image[0, 0].numpy(), values[0] / 65535 * 2 - 1, atol=1e-5)


def _write_png16(path, array: np.ndarray) -> None:
    """A 16-bit PNG (grey [H, W] or RGB [H, W, 3]) written by hand: Pillow cannot write 16-bit RGB."""
    import struct
    import zlib

    height, width = array.shape[:2]
    raw = b"".join(b"\x00" + array[row].astype(">u2").tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, 0 if array.ndim == 2 else 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_a_16_bit_rgb_png_keeps_its_brightness(tmp_path):
    values = np.linspace(0, 65535, 4 * 5 * 3).reshape(4, 5, 3).astype(np.uint16)
    _write_png16(tmp_path / "deep-rgb.png", values)
    pixels = decode_image(tmp_path / "deep-rgb.png").pixels
    assert pixels.shape == (4, 5, 3)
    # Pillow decodes 16-bit RGB at 8 bits (integer arithmetic, the same on every CPU): the error is
    # the 8-bit quantisation, under 1/255 by construction
    np.testing.assert_allclose(pixels, values / 65535, atol=1 / 255)


def test_a_float_tiff_is_read_as_intensities_in_0_1(tmp_path):
    values = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "float.tif"
    Image.fromarray(values, mode="F").save(path)
    np.testing.assert_allclose(decode_image(path).pixels, values, atol=1e-7)
    Image.fromarray(values * 255, mode="F").save(tmp_path / "float255.tif")
    with pytest.raises(DataError, match=r"float image with values in \[0, 255\]; float images are read as intensities"):
        decode_image(tmp_path / "float255.tif")


def test_the_exif_orientation_of_a_photo_is_applied(tmp_path):
    pixels = _gradient(20, 40)  # stored landscape, 40 wide
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the camera was held upright
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    decoded = decode_image(path)
    assert decoded.pixels.shape == (40, 20, 3)  # shown portrait
    assert decoded.changes == ["turned upright by its EXIF orientation 6"]
    lines = []
    load_images(path, (3, 40, 20), say=lines.append)
    assert lines == ["data: turned upright by its EXIF orientation 6: 1 image: photo"]


def test_grey_is_converted_only_for_a_model_that_needs_rgb_and_it_is_said(tmp_path):
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(tmp_path / "grey.png")
    assert load_images(tmp_path / "grey.png", None).images.shape == (1, 1, 8, 8)
    lines = []
    assert load_images(tmp_path / "grey.png", (3, 8, 8), say=lines.append).images.shape == (1, 3, 8, 8)
    assert lines == ["data: grey repeated to RGB (the generator makes 3-channel images): 1 image: grey"]
    Image.fromarray(_gradient(8, 8)).save(tmp_path / "colour.png")
    lines = []
    grey = load_images(tmp_path / "colour.png", (1, 8, 8), say=lines.append).images
    assert grey.shape == (1, 1, 8, 8)
    assert lines == ["data: converted from RGB to grey (luma) (the generator makes 1-channel images): 1 image: colour"]


def _classical_recipe(images) -> dict:
    return {
        "version": 1,
        "device": "cpu",
        "operator": {"type": "inpaint-center", "params": {"fraction": 0.25}},
        "solver": {"type": "tv-inpaint", "params": {"iterations": 5}},
        "data": {"images": images, "batch_size": 4},
        "metrics": ["psnr", "mse"],
        "outputs": {"latents": False},
    }


def test_a_generator_free_solver_keeps_every_image_at_its_own_size(tmp_path, capfd):
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(_gradient(24, 40)).save(folder / "a_wide.png")
    Image.fromarray(_gradient(32, 16)).save(folder / "b_tall.png")
    Image.fromarray(_gradient(24, 40)).save(folder / "c_wide.png")
    Image.fromarray(_gradient(20, 20)[..., 0]).save(folder / "d_grey.png")
    result = invprob.run(_classical_recipe(str(folder)), out=tmp_path / "runs", show_progress=False)
    err = capfd.readouterr().err
    assert "data: the images keep their own sizes (2 of 40x24, 1 of 16x32, 1 of 20x20)" in err
    assert result.names == ["a_wide", "c_wide", "b_tall", "d_grey"]  # grouped by size
    shapes = [tuple(image.shape) for image in result.reconstructions]
    assert shapes == [(3, 24, 40), (3, 24, 40), (3, 32, 16), (1, 20, 20)]
    metrics = json.loads((result.directory / "metrics.json").read_text())
    assert [m["name"] for m in metrics["images"]] == result.names
    assert all(m["psnr"] is not None and m["psnr"] > 10 for m in metrics["images"])
    for index, name in enumerate(result.names):
        with Image.open(result.directory / "images" / f"{index:04d}_{name}_reconstruction.png") as saved:
            assert saved.size == (shapes[index][2], shapes[index][1])
    with Image.open(result.directory / "grid.png") as grid:
        assert grid.size[0] > 0


def test_images_given_as_a_tensor_in_0_1(tmp_path):
    images = torch.rand(2, 3, 12, 20, generator=torch.Generator().manual_seed(0))
    recipe = _classical_recipe(images)
    result = invprob.run(recipe, out=tmp_path / "runs", show_progress=False)
    assert result.names == ["tensor0000", "tensor0001"]
    assert result.reconstructions.shape == (2, 3, 12, 20)
    resolved = (result.directory / "recipe.resolved.yaml").read_text()
    assert "images: <a tensor [2, 3, 12, 20] float32 given from Python>" in resolved
    with pytest.raises(invprob.building.InputError, match=r"must be in \[0, 1\].*look like \[-1, 1\]: pass \(x \+ 1\) / 2"):
        invprob.run(_classical_recipe(images * 2 - 1), out=tmp_path / "runs", show_progress=False)
