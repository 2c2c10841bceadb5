"""The numbers of ``metrics.json``: every metric per image, batch by batch, which way each is
better, and the flat ``records`` table.

``psnr_missing`` and ``mse_missing`` are the PSNR and MSE over the pixels a masking operator does
not observe, the numbers inpainting papers report (:data:`IN_THE_HOLE`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import torch

from invprob.default_plugins.image_quality import mse_in_region, psnr, psnr_in_region
from invprob.metrics import evaluate
from invprob.solver import SolverResult

if TYPE_CHECKING:
    from invprob.app.components import Components

NO_GROUND_TRUTH = "no ground truth: data.observation was given"
"""Why the metrics that compare with the ground truth are unavailable in a run given its observation."""


def metrics_document(
    components: Components,
    names: list[str],
    results: Sequence[SolverResult],
    truth: torch.Tensor | list[torch.Tensor] | None,
    interrupted: bool,
    operators: Sequence[Any],
) -> tuple[dict[str, Any], list[str] | None]:
    """``metrics.json`` of a run (its caller adds its ``extra``), and the grid's per-row PSNR notes.

    What ran (``recipe``, ``solver``, ``operator``, ``generator``, ``seed``:
    :func:`~invprob.app.run_record.describe_run`), per-image entries (``images``: measurement
    loss, best round, every metric; an image that is not finite has no loss) and their means
    (``mean``), and ``records``: one ``{recipe, solver, operator, seed, index, image, metric,
    value}`` per image and value, so that ``pandas.DataFrame(json.load(f)["records"])`` is the
    whole table (and several runs' records concatenate into one). When the operator observes a
    subset of the pixels (``observed_mask()``) and ``psnr`` (``mse``) is computed,
    ``psnr_missing`` (``mse_missing``) is the PSNR (MSE) over the missing pixels alone, the
    number inpainting papers report. ``higher_is_better`` maps each value's name to its
    direction (:func:`metric_directions`); ``trivial`` (when present) maps a value the solver's
    post-processing makes trivial to the reason (``SolverResult.trivial_metrics``); then
    timings, notes and rounds.
    """
    from invprob.app.run_record import describe_run

    metrics: dict[str, Any] = describe_run(components.recipe)
    metrics.update({"interrupted": interrupted, "images_solved": len(names), "images": []})
    unavailable = dict(components.unavailable)
    if truth is None:
        unavailable.update({name: NO_GROUND_TRUTH for name in components.metrics})
    if unavailable:
        metrics["unavailable"] = unavailable
    metrics["records"] = []
    if not results:
        return metrics, None
    finite = [bool(torch.isfinite(image).all()) for r in results for image in r.best_image]
    losses = torch.cat([r.best_loss for r in results]).tolist()
    measurement_loss = [loss if ok else math.nan for loss, ok in zip(losses, finite)]  # no image, no loss
    rounds = torch.cat([r.best_round for r in results]).tolist() if all(r.best_round is not None for r in results) else None
    values, row_notes = _metrics_by_batch(components, results, operators, truth)
    for index, name in enumerate(names):
        entry: dict[str, Any] = {"name": name, "measurement_loss": measurement_loss[index]}
        if rounds is not None:
            entry["best_round"] = rounds[index]  # the solver round its best iterate came from
        entry.update({metric: values[metric][index] for metric in values})
        metrics["images"].append(entry)
    metrics["mean"] = {metric: _mean([v for v in values[metric] if v is not None]) for metric in values}
    metrics["mean"]["measurement_loss"] = _mean([v for v in measurement_loss if math.isfinite(v)])
    metrics["records"] = _records(metrics)
    metrics["higher_is_better"] = metric_directions(components.metrics, [*sorted(values), "measurement_loss"])
    trivial = {name: reason for r in results for name, reason in r.trivial_metrics.items()}
    if trivial:
        metrics["trivial"] = trivial
    metrics["timings"] = [r.timings for r in results]
    notes = [note for r in results for note in r.notes]
    if notes:
        metrics["notes"] = notes
    if results[0].rounds:
        metrics["rounds"] = results[0].rounds  # what each round optimised (the same for every batch)
    return metrics, row_notes


OWN_DIRECTIONS: dict[str, bool] = {"measurement_loss": False}
"""Which way is better for the loss the solver minimises, which every run records."""


IN_THE_HOLE = {"psnr": ("psnr_missing", psnr_in_region), "mse": ("mse_missing", mse_in_region)}
"""Metrics a run also computes over the missing pixels of a masking operator: metric ->
(name of the value, its function of reconstruction, target and region)."""
DERIVED_FROM = {derived: metric for metric, (derived, _) in IN_THE_HOLE.items()}
"""Values a run derives from a metric, which go the same way as it."""


def metric_directions(built: Mapping[str, Any], names: Sequence[str]) -> dict[str, bool | None]:
    """``metrics.json``'s ``higher_is_better``: for each of ``names``, what its metric component
    declares (``Metric.higher_is_better``; ``psnr_missing`` goes as ``psnr``), or
    :data:`OWN_DIRECTIONS`; None where a metric
    declares nothing (a study's report then ranks nothing by it, and says so)."""
    out: dict[str, bool | None] = {}
    for name in names:
        source = DERIVED_FROM.get(name, name)
        declared = getattr(type(built[source]), "higher_is_better", None) if source in built else OWN_DIRECTIONS.get(name)
        out[name] = declared if isinstance(declared, bool) else None
    return out


RECORD_FIELDS = ("recipe", "solver", "operator", "seed", "index", "image", "metric", "value")
"""The columns of ``metrics.json``'s ``records``."""


def _records(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One flat record per image and value (``best_round`` is not a metric and is left out),
    sorted by image index, then metric name: identical runs write identical files."""
    run = {"recipe": metrics["recipe"]["name"], "solver": metrics["solver"], "operator": metrics["operator"],
           "seed": metrics["seed"]}  # fmt: skip
    return [
        {**run, "index": index, "image": entry["name"], "metric": metric, "value": entry[metric]}
        for index, entry in enumerate(metrics["images"])
        for metric in sorted(entry)
        if metric not in ("name", "best_round")
    ]


def _metrics_by_batch(
    components: Components,
    results: Sequence[SolverResult],
    operators: Sequence[Any],
    truth: torch.Tensor | list[torch.Tensor] | None,
) -> tuple[dict[str, list[float | None]], list[str] | None]:
    """Every metric per image, and the grid's per-row PSNR notes, batch by batch: a batch never
    mixes image sizes, and ``psnr_missing``/``mse_missing`` use that batch's own operator's mask."""
    if truth is None:
        return {}, None
    values: dict[str, list[float | None]] = {}
    notes: list[str] = []
    offset = 0
    for result, operator in zip(results, operators):
        reconstruction = result.best_image
        count = reconstruction.shape[0]
        target = truth[offset : offset + count]
        target = torch.stack(list(target)) if isinstance(target, list) else target
        batch = evaluate(components.metrics, reconstruction, target)
        missing = _missing_region(operator, count)
        for metric, (derived, function) in IN_THE_HOLE.items():
            if metric in batch and missing is not None:
                in_hole = partial(function, region=missing.to(reconstruction.device))
                batch[derived] = evaluate({derived: in_hole}, reconstruction, target)[derived]
        for name in dict.fromkeys([*values, *batch]):  # a set's order changes from run to run
            values.setdefault(name, [None] * offset).extend(batch.get(name, [None] * count))
        notes += _psnr_notes(reconstruction, target, missing)
        offset += count
    return values, notes


def _missing_region(operator: Any, count: int) -> torch.Tensor | None:
    """``1 - observed_mask`` of a masking operator, on the CPU, for ``count`` images; None
    when the operator has no mask (or one that does not fit every image)."""
    mask = operator.observed_mask()
    if mask is None or mask.shape[0] not in (1, count):
        return None
    return 1 - (mask.detach().to("cpu", torch.float64) > 0.5).to(torch.float64)


def _psnr_notes(reconstruction: torch.Tensor, truth: torch.Tensor, missing: torch.Tensor | None) -> list[str]:
    """``"PSNR 23.41 dB"`` per image for the grid's rows (and over the missing pixels when known)."""
    recon = reconstruction.detach().cpu()
    target = truth.detach().cpu()
    overall = psnr(recon, target).tolist()
    inside = psnr_in_region(recon, target, missing).tolist() if missing is not None else [None] * len(overall)
    notes = []
    for whole, hole in zip(overall, inside):
        text = f"PSNR {_db(whole)}"
        if hole is not None:
            text += f"\nmissing {_db(hole)}"
        notes.append(text)
    return notes


def _db(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return "inf dB" if math.isinf(value) else f"{value:.2f} dB"


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None
