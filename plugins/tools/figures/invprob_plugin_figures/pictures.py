"""The figures of a run: the labelled grid, the optimisation GIF, the loss plot.

Every file is written under a temporary name and renamed into place
(:func:`invprob.images.atomic_path`). ``grid.png`` has one labelled column per kind of image
(observed, reconstruction, ground truth) and one row per image with its name and PSNR, the
first :data:`GRID_ROWS` images; ``optimisation.gif`` is laid out like it, each frame labelled
with its step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from invprob.images import atomic_path, tile


GRID_ROWS = 32
"""The most images ``grid.png`` shows (the first ones); every image is in ``images/``."""


GIF_FRAME_MS = 100
"""How long each frame of ``optimisation.gif`` shows, in milliseconds (GIF delays are whole
hundredths of a second): 10 frames a second."""


GIF_LAST_FRAME_MS = 2000
"""How long the GIF's last frame, the reported result, shows before the loop restarts."""


def save_grid(
    columns: Mapping[str, torch.Tensor | Sequence[torch.Tensor] | None],
    names: Sequence[str],
    path: Path,
    *,
    row_notes: Sequence[str] | None = None,
    title: str | None = None,
) -> None:
    """``grid.png``: one row per image, one labelled column per tensor that is not None.

    ``columns`` maps a column's label (``"observed"``, ``"reconstruction"``, ``"ground
    truth"``) to ``[N, C, H, W]`` images in [-1, 1], or to a list of ``[C, H, W]`` images of
    several sizes (a generator-free run on images of their own sizes); each row is labelled with the image's
    name and its ``row_notes`` entry (the PSNR). Made with matplotlib's Agg canvas (no pyplot:
    a notebook's backend is left alone). See :func:`grid_figure`.
    """
    figure = grid_figure(columns, names, row_notes=row_notes, title=title)
    with atomic_path(path) as tmp:
        figure.savefig(tmp)


def grid_figure(
    columns: Mapping[str, torch.Tensor | Sequence[torch.Tensor] | None],
    names: Sequence[str],
    *,
    row_notes: Sequence[str] | None = None,
    title: str | None = None,
):
    """The matplotlib ``Figure`` of :func:`save_grid`.

    Small images are shown enlarged (nearest neighbour, at least 256 pixels a side), large
    ones at most 512 pixels a side; at most :data:`GRID_ROWS` rows, and the title says when
    images were left out.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    present = {label: tensor for label, tensor in columns.items() if tensor is not None}
    if not present:
        raise ValueError("a grid needs at least one column of images")
    total = len(names)
    rows = min(total, GRID_ROWS)
    height = max(int(column[row].shape[-2]) for column in present.values() for row in range(rows))
    width = max(int(column[row].shape[-1]) for column in present.values() for row in range(rows))
    longest = max(height, width)
    scale = max(1, 256 // longest) if longest < 256 else min(1.0, 512 / longest)
    dpi = 100
    panel_w, panel_h = width * scale / dpi, height * scale / dpi
    label_w, title_h = 0.5, 0.35 + (0.3 if title or rows < total else 0)
    figure = Figure(
        figsize=(len(present) * (panel_w + 0.08) + label_w, rows * (panel_h + 0.08) + title_h), dpi=dpi,
        layout="constrained",
    )
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, len(present), squeeze=False)
    for col, (label, tensor) in enumerate(present.items()):
        axes[0, col].set_title(label, fontsize=10)
        for row in range(rows):
            axis = axes[row, col]
            axis.imshow(tile(tensor[row], grey_as_rgb=True), interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            for spine in axis.spines.values():
                spine.set_visible(False)
    for row in range(rows):
        text = _short(names[row], 28)
        if row_notes is not None and row_notes[row]:
            text += "\n" + row_notes[row]
        axes[row, 0].set_ylabel(text, fontsize=8)
    heading = [title] if title else []
    if rows < total:
        heading.append(f"the first {rows} of {total} images (all of them are in images/)")
    if heading:
        figure.suptitle("\n".join(heading), fontsize=10)
    return figure


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


GIF_ROWS = 8
"""The most images ``optimisation.gif`` shows (the first ones of the first batch)."""


@dataclass(frozen=True)
class GifLayout:
    """Where things go in a frame of ``optimisation.gif``: a heading band (the step), a band of
    column labels, then one row per image with its name on the left; tiles of ``tile``
    ``(height, width)`` pixels, ``pad`` apart."""

    names: tuple[str, ...]
    columns: tuple[str, ...]
    tile: tuple[int, int]
    label_width: int
    heading: int = 22
    labels: int = 18
    pad: int = 4

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of a frame."""
        height, width = self.tile
        return (self.label_width + len(self.columns) * (width + self.pad) + self.pad,
                self.heading + self.labels + len(self.names) * (height + self.pad))  # fmt: skip

    def box(self, row: int, column: int) -> tuple[int, int]:
        """``(x, y)`` of the top left corner of the tile of image ``row`` in ``column``."""
        height, width = self.tile
        return self.label_width + self.pad + column * (width + self.pad), self.heading + self.labels + row * (height + self.pad)


def gif_layout(names: Sequence[str], columns: Sequence[str], tile: tuple[int, int]) -> GifLayout:
    """The :class:`GifLayout` of ``names`` (rows) and ``columns`` with tiles of ``tile`` pixels:
    the name column as wide as the longest name (at most 20 characters) in the GIF's font."""
    font = _gif_font()
    width = int(max((font.getlength(_short(name, 20)) for name in names), default=0)) + 8
    return GifLayout(tuple(names), tuple(columns), tile, width)


def _gif_font() -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=12)
    except TypeError:  # Pillow without FreeType sizes: the small bitmap font
        return ImageFont.load_default()


def save_gif(
    frames: Sequence[torch.Tensor],
    path: Path,
    *,
    frame_ms: int = GIF_FRAME_MS,
    last_frame_ms: int = GIF_LAST_FRAME_MS,
    steps: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    observed: torch.Tensor | None = None,
    truth: torch.Tensor | None = None,
) -> GifLayout:
    """``optimisation.gif``, looping, laid out like ``grid.png``: one row per image (the first
    :data:`GIF_ROWS` of the batch) named on the left, labelled columns ``observed``,
    ``reconstruction`` and ``ground truth`` (those given), and a heading with each frame's
    ``steps`` label ("step 40", the last "result"). Each frame ``[B, C, H, W]`` fills the
    reconstruction column; the other columns stay.

    Each frame shows ``frame_ms`` milliseconds and the last ``last_frame_ms`` (Pillow writes
    the delay in the file: read it back as ``Image.open(path).info["duration"]``). Small images
    are enlarged to at least 128 pixels high (nearest neighbour). Returns the layout.
    """
    from PIL import Image, ImageDraw

    if not frames:
        raise ValueError("a GIF needs at least one frame")
    count = min(GIF_ROWS, max(frame.shape[0] for frame in frames))
    names = [str(n) for n in names[:count]] if names is not None else [f"image {i}" for i in range(count)]
    fixed = {"observed": observed, "reconstruction": None, "ground truth": truth}
    columns = tuple(label for label, images in fixed.items() if label == "reconstruction" or images is not None)
    height, width = (int(s) for s in frames[-1].shape[-2:])
    scale = max(1, 128 // max(height, 1))
    font = _gif_font()
    layout = gif_layout(names, columns, (height * scale, width * scale))

    def scaled(image: torch.Tensor) -> Image.Image:
        picture = Image.fromarray(tile(image, grey_as_rgb=True))
        return picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST) if scale > 1 else picture

    def text(draw: Any, x: float, y: float, words: str, centred: bool = False) -> None:
        """``words`` with its left edge (or centre) at ``x``, centred on ``y`` (any Pillow font)."""
        left, top, right, bottom = draw.textbbox((0, 0), words, font=font)
        draw.text((x - (right - left) / 2 * centred - left, y - (bottom + top) / 2), words, fill="black", font=font)

    base = Image.new("RGB", layout.size, "white")
    draw = ImageDraw.Draw(base)
    for column, label in enumerate(columns):
        x, _ = layout.box(0, column)
        text(draw, x + layout.tile[1] / 2, layout.heading + layout.labels / 2, label, centred=True)
        for row in range(count):
            if fixed[label] is not None and row < fixed[label].shape[0]:  # type: ignore[union-attr]
                base.paste(scaled(fixed[label][row]), layout.box(row, column))  # type: ignore[index]
    for row, name in enumerate(names):
        text(draw, 4, layout.box(row, 0)[1] + layout.tile[0] / 2, _short(name, 20))
    shown = max(frame.shape[0] for frame in frames)
    note = f" (the first {count} of {shown} images)" if count < shown else ""
    where = columns.index("reconstruction")
    pictures = []
    for index, frame in enumerate(frames):
        picture = base.copy()
        for row in range(min(count, frame.shape[0])):
            picture.paste(scaled(frame[row]), layout.box(row, where))
        if steps is not None:
            text(ImageDraw.Draw(picture), 4, layout.heading / 2, steps[index] + note)
        pictures.append(picture)
    durations = [frame_ms] * (len(pictures) - 1) + [last_frame_ms]
    with atomic_path(path) as tmp:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    return layout


def plot_history(histories: Sequence[Mapping[str, Sequence[float]]], path: Path) -> None:
    """Loss curves, one line per recorded scalar and batch, log scale when positive."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), dpi=100, layout="tight")
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    positive = True
    for index, history in enumerate(histories):
        for name, values in history.items():
            if not values:
                continue
            label = name if len(histories) == 1 else f"{name} (batch {index})"
            finite = [v for v in values if v is not None and math.isfinite(v)]
            axis.plot(range(len(values)), [v if v is not None else math.nan for v in values], label=label)
            positive = positive and bool(finite) and min(finite) > 0
    if positive:
        axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.legend(fontsize="small")
    with atomic_path(path) as tmp:
        figure.savefig(tmp)
