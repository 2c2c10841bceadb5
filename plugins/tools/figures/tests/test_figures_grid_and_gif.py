"""The figures of a run (``invprob-plugin-figures``): the labelled grid with each image's PSNR,
the GIF's frame rate, layout and last frame, drawn by the figures hook at the end of a run."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image

import invprob
from invprob_plugin_figures import pictures


def _run(recipe, overrides=(), **kwargs):
    return invprob.run(recipe, list(overrides), show_progress=False, **kwargs)


# -- grid.png ------------------------------------------------------------------------------


def _images(count: int, size: int = 8) -> torch.Tensor:
    return torch.linspace(-1, 1, count * 3 * size * size).reshape(count, 3, size, size)


def test_grid_labels_each_column_and_each_row_with_its_name_and_psnr():
    truth = _images(2)
    figure = pictures.grid_figure(
        {"observed": truth * 0.5, "reconstruction": truth.flip(0), "ground truth": truth},
        ["cat", "dog"],
        row_notes=["PSNR 21.50 dB", "PSNR 9.25 dB"],
        title="csgm on inpaint-box",
    )
    axes = figure.axes
    assert [axis.get_title() for axis in axes[:3]] == ["observed", "reconstruction", "ground truth"]
    assert axes[0].get_ylabel() == "cat\nPSNR 21.50 dB" and axes[3].get_ylabel() == "dog\nPSNR 9.25 dB"
    assert figure.get_suptitle() == "csgm on inpaint-box"


def test_grid_leaves_out_absent_columns_and_says_when_it_shows_only_the_first_images():
    count = pictures.GRID_ROWS + 3
    figure = pictures.grid_figure({"observed": None, "reconstruction": _images(count, 4)}, [f"i{k}" for k in range(count)])
    assert len(figure.axes) == pictures.GRID_ROWS and figure.axes[0].get_title() == "reconstruction"
    assert f"the first {pictures.GRID_ROWS} of {count} images" in figure.get_suptitle()


def test_a_runs_grid_shows_the_psnr_of_each_image_over_all_and_over_the_missing_pixels(toy_registry, toy_recipe, tmp_path, monkeypatch):
    figures = []
    real = pictures.grid_figure
    monkeypatch.setattr(pictures, "grid_figure", lambda *a, **k: figures.append(real(*a, **k)) or figures[-1])
    result = _run(toy_recipe, ["data.samples=2"], out=tmp_path, registry=toy_registry)
    metrics = json.loads((result.directory / "metrics.json").read_text())
    (figure,) = figures
    assert [axis.get_title() for axis in figure.axes[:3]] == ["observed", "reconstruction", "ground truth"]
    for row, image in enumerate(metrics["images"]):
        label = figure.axes[3 * row].get_ylabel()
        assert label == f"{image['name']}\nPSNR {image['psnr']:.2f} dB\nmissing {image['psnr_missing']:.2f} dB"
    with Image.open(result.directory / "grid.png") as grid:
        assert grid.format == "PNG" and grid.size[0] > grid.size[1]  # three columns, two rows


# -- optimisation.gif ----------------------------------------------------------------------


def test_gif_frames_play_at_ten_a_second_and_hold_the_result(tmp_path):
    frames = [torch.full((2, 3, 8, 8), value) for value in (-1.0, 0.0, 1.0)]
    pictures.save_gif(frames, tmp_path / "a.gif")
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 3 and gif.info["loop"] == 0
        delays = []
        for index in range(gif.n_frames):
            gif.seek(index)
            delays.append(gif.info["duration"])
    assert delays == [pictures.GIF_FRAME_MS, pictures.GIF_FRAME_MS, pictures.GIF_LAST_FRAME_MS] and pictures.GIF_FRAME_MS >= 20


def _gif_frames(path: Path) -> list:
    import numpy as np

    with Image.open(path) as gif:
        frames = []
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(np.asarray(gif.convert("RGB"), dtype=float))
    return frames


def test_gif_frames_are_laid_out_like_the_grid_labelled_with_their_step(tmp_path):
    """The GIF had neither a step counter nor labels: a heading names each frame's step, the
    columns are labelled like grid.png's, each row is an image with its name."""
    import numpy as np

    truth = torch.full((2, 1, 16, 16), 0.5)
    frames = [torch.full((2, 1, 16, 16), value) for value in (-1.0, 0.0)]
    layout = pictures.save_gif(frames, tmp_path / "b.gif", steps=["step 0", "step 5"], names=["face-a", "face-b"], truth=truth)
    assert layout.columns == ("reconstruction", "ground truth") and layout.tile == (16 * 8, 16 * 8)
    first, second = _gif_frames(tmp_path / "b.gif")
    assert first.shape[:2] == layout.size[::-1]
    heading = slice(0, layout.heading)
    assert (first[heading] < 128).any() and (first[heading] != second[heading]).any()  # "step 0", then "step 5"
    labels = slice(layout.heading, layout.heading + layout.labels)
    assert (first[labels] < 128).any() and (first[labels] == second[labels]).all()  # the column labels stay
    assert (first[layout.heading + layout.labels :, : layout.label_width - 4] < 128).any()  # the images' names
    x, y = layout.box(1, 1)
    assert np.abs(first[y : y + 128, x : x + 128] - 191).max() <= 2  # the truth (0.5 -> 191) in its column
    x, y = layout.box(1, 0)
    assert first[y : y + 128, x : x + 128].max() <= 2 and np.abs(second[y : y + 128, x : x + 128] - 128).max() <= 2


def test_a_runs_gif_ends_on_the_reported_reconstruction_at_a_real_frame_rate(toy_registry, toy_recipe, tmp_path):
    result = _run(toy_recipe, ["data.samples=2"], out=tmp_path, registry=toy_registry)
    import numpy as np

    with Image.open(result.directory / "optimisation.gif") as gif:
        assert gif.info["duration"] == pictures.GIF_FRAME_MS
        assert gif.n_frames == 15 // 5 + 1  # every 5th of 15 steps, then the result
        gif.seek(gif.n_frames - 1)
        assert gif.info["duration"] == pictures.GIF_LAST_FRAME_MS
    last = _gif_frames(result.directory / "optimisation.gif")[-1]
    layout = pictures.gif_layout(["sample0000", "sample0001"], ["observed", "reconstruction", "ground truth"], (128, 128))
    assert last.shape[:2] == layout.size[::-1]
    for row in (0, 1):
        expected = np.asarray(Image.open(result.directory / "images" / f"000{row}_sample000{row}_reconstruction.png"), dtype=float)
        x, y = layout.box(row, 1)
        shown = last[y : y + 128 : 8, x : x + 128 : 8]  # 16 px images enlarged 8 times
        assert np.abs(shown - expected).mean() < 4  # GIF palette rounding only
