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


def add_study_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``study run``, ``study plan`` and ``study report`` to the ``invprob`` parser."""
    study = sub.add_parser("study", help="run a grid of recipes (methods x tasks x images) and report on it")
    commands = study.add_subparsers(dest="study_command", metavar="COMMAND")

    p = commands.add_parser("run", help="run the cells of a study not yet done (resumes where it stopped)")
    p.add_argument("study", help=STUDY_HELP)
    p.add_argument("--out", default="studies", help="parent folder of the study directory (default: ./studies)")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: cells one after another in this process; ray: each cell a Ray task")  # fmt: skip
    p.add_argument("--address", help="Ray cluster to connect to (default: start a local instance)")
    p.add_argument("--workers", type=int, help="Ray: cells at a time (and CPUs of a local instance)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="override every cell's device")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_study_run)

    p = commands.add_parser("plan", help="print the cells of a study without running them")
    p.add_argument("study", help=STUDY_HELP)
    p.add_argument("--out", default="studies", help="where the study directory is, to show which cells are done")
    p.set_defaults(func=cmd_study_plan)

    p = commands.add_parser("report", help="write the HTML report of a study directory")
    try:  # the report's own options and handler, where the report module is installed
        from invprob.study.report import add_report_arguments, report_command
    except ImportError:
        p.add_argument("study_dir", help="the study directory (<out>/<study name>)")
        p.set_defaults(func=cmd_study_report)
    else:
        add_report_arguments(p)
        p.set_defaults(func=report_command)
    study.set_defaults(func=lambda args: _help(study))


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return EXIT_INVALID


def _load(args: argparse.Namespace):
    """The loaded study (its warnings printed), or None after printing every problem."""
    from invprob.hints import report_plugin_failures
    from invprob.registry import default_registry
    from invprob.study.spec import StudyError, load_study

    registry = default_registry()
    report_plugin_failures(registry)
    try:
        study = load_study(args.study, registry=registry)
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
    from invprob.study.store import StudyDirectory

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
    from invprob.study.runner import StudyRunError, run_study

    try:
        outcome = run_study(
            study, args.out, engine=args.engine, address=args.address, workers=args.workers,
            device=args.device, show_progress=not args.quiet,
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


def cmd_study_report(args: argparse.Namespace) -> int:
    """``study report`` without :mod:`invprob.study.report`'s own handler: ``write_report`` if it
    can be imported, else a one-line error."""
    directory = Path(args.study_dir)
    if not (directory / "cells.json").is_file():
        print(f"error: {directory} is not a study directory (it has no cells.json); "
              "give <out>/<study name> of an `invprob study run`", file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    try:
        from invprob.study.report import write_report
    except ImportError as exc:
        print(f"error: the study report is not available in this installation ({exc})", file=sys.stderr)
        return EXIT_FAILURE
    path = write_report(directory)
    print(f"report: {path}")
    return EXIT_OK
