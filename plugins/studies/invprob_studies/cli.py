"""``invprob study run|plan|report``: the command line of studies.

Exit codes as for ``invprob run``: 0 every cell done, 1 some cell failed (the others ran),
2 an invalid study (every problem listed) or a wrong input, 130/143 stopped by SIGINT/SIGTERM
(finished cells are kept; the same command resumes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2
STUDY_HELP = "YAML study file"


def configure_run(parser: argparse.ArgumentParser) -> None:
    """The options of ``invprob study run``, every registered engine's own included."""
    from invprob.registry import default_registry

    from invprob_studies.engines import add_engine_arguments, study_engines

    parser.add_argument("study", help=STUDY_HELP)
    parser.add_argument("--out", default="studies", help="parent folder of the study directory (default: ./studies)")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], help="override every cell's device")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_engine_arguments(parser, study_engines(default_registry()))


def configure_plan(parser: argparse.ArgumentParser) -> None:
    """The options of ``invprob study plan``."""
    parser.add_argument("study", help=STUDY_HELP)
    parser.add_argument("--out", default="studies", help="where the study directory is, to show which cells are done")


def _load(args: argparse.Namespace):
    """The loaded study (its warnings printed), or None after printing every problem."""
    from invprob_studies.spec import StudyError, load_study

    try:
        study = load_study(args.study)
    except StudyError as exc:
        print(exc.report(), file=sys.stderr)
        return None
    for warning in study.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return study


def cmd_study_plan(args: argparse.Namespace) -> int:
    """Print one line per cell: its id, its labels, and whether it is done in ``--out``."""
    study = _load(args)
    if study is None:
        return EXIT_INVALID
    from invprob_studies.store import StudyDirectory

    states = StudyDirectory(Path(args.out) / study.name).cell_states()
    print(f"{study.source}: {len(study.cells)} cells (study {study.name!r}, directory {Path(args.out) / study.name})")
    for cell in study.cells:
        state = states.get(cell.id, {}).get("status", "todo")
        print(f"  {cell.id}  {state:6}  {cell.describe()}")
    return EXIT_OK


def cmd_study_run(args: argparse.Namespace) -> int:
    study = _load(args)
    if study is None:
        return EXIT_INVALID
    from invprob.interrupts import exit_code, signal_name

    from invprob_studies.runner import StudyRunError, run_study

    engines = args.study_engines  # asked once, when the parser was built (configure_run)
    for warning in engines.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    options = {name: getattr(args, name, None) for engine in engines.by_name.values() for name in engine.options()}
    try:
        outcome = run_study(
            study, args.out, engine=args.engine, device=args.device, show_progress=not args.quiet, engines=engines,
            **options,
        )  # fmt: skip
    except StudyRunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"error: cannot use the study directory under {args.out}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    summary = (f"{outcome.done} done, {outcome.failed} failed, {outcome.skipped} already done"
               + (f", {outcome.elsewhere} run by another process" if outcome.elsewhere else "")
               + f" of {outcome.total} cells in {outcome.seconds:.1f} s")  # fmt: skip
    if outcome.interrupted:
        print(f"interrupted ({signal_name(outcome.signal)}): {summary}; run the same command to resume")
        print(f"study directory: {outcome.directory}")
        return exit_code(outcome.signal)
    print(summary)
    print(f"study directory: {outcome.directory}")
    if outcome.failed:
        print(f"{outcome.failed} cell(s) failed: see cells.jsonl; a rerun retries them", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def configure_report(parser: argparse.ArgumentParser) -> None:
    """The options of ``invprob study report`` (:func:`invprob_studies.report.add_report_arguments`)."""
    from invprob_studies.report import add_report_arguments

    add_report_arguments(parser)


def cmd_study_report(args: argparse.Namespace) -> int:
    """Write the report (:func:`invprob_studies.report.report_command`)."""
    from invprob_studies.report import report_command

    return report_command(args)
