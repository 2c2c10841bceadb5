"""The ``invprob`` command line.

Exit codes: 0 success, 2 invalid recipe or input, 1 failure while running (a loss that
became non-finite included), 128 + the signal's number when a signal stopped the command (130
for Ctrl-C, 143 for SIGTERM; an interrupted run still writes its best result). ``--help``,
``plugins``, ``validate`` and ``schema`` import neither torch nor any plugin's heavy modules.
"""

from __future__ import annotations

import argparse
import errno
import importlib.metadata
import itertools
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from invprob import __version__
from invprob.interrupts import Interrupts, exit_code, signal_name
from invprob.hints import report_plugin_failures, singular
from invprob.registry import KINDS, Component, Distribution, Registry, default_registry

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2

RECIPE_HELP = "YAML recipe file"
OVERRIDES_HELP = "overrides such as solver.params.steps=200 or ~priors (YAML-typed values)"


TRACEBACK_HINT = "(set INVPROB_TRACEBACK=1 to see the traceback)"


def _print_error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def command_failed(what: str, exc: BaseException, *, invalid: bool = False, show_traceback: bool = False) -> int:
    """How every command reports an error it did not expect to handle: one line (``what: message``
    for a wrong input, exit 2; ``what failed: Type: message`` otherwise, exit 1); the traceback
    when asked for (``INVPROB_TRACEBACK=1``, or ``invprob run --traceback``), else how to ask."""
    show = show_traceback or bool(os.environ.get("INVPROB_TRACEBACK"))
    if show:
        traceback.print_exception(exc)
    message = error_text(exc)
    _print_error(f"{what}: {message}" if invalid else f"{what} failed: {type(exc).__name__}: {message}")
    if not invalid and not show:
        print(TRACEBACK_HINT, file=sys.stderr)
    return EXIT_INVALID if invalid else EXIT_FAILURE


def error_text(exc: BaseException) -> str:
    """``str(exc)``, except that a path too long for the file system says which name and its length."""
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
        from invprob.params import path_too_long

        return path_too_long(exc.filename or "") or "a path is longer than the file system allows"
    return str(exc)


def is_input_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the input was wrong (exit 2) rather than that running failed (exit 1)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
        return True
    return isinstance(exc, _input_errors())


def _input_errors() -> tuple[type[BaseException], ...]:
    """What a wrong input raises (exit code 2), importing torch only when a run already did."""
    from invprob.building import InputError
    from invprob.images import DataError
    from invprob.app.outputs import OutputError
    from invprob.weights import WeightsFileError, WeightsMismatchError, WeightsNotFoundError

    return (InputError, DataError, OutputError, WeightsNotFoundError, WeightsMismatchError, WeightsFileError,
            FileExistsError)  # fmt: skip


def _load_recipe(args: argparse.Namespace, *, check_data: bool = False):
    """The validated recipe, or None after printing every problem.

    Relative paths given in overrides resolve against the working directory (``paths_from``
    of :func:`~invprob.recipe.load_recipe`); with ``check_data`` the data paths must exist.
    """
    from invprob.recipe import RecipeError, data_path_problems, load_recipe

    registry = default_registry()
    report_plugin_failures(registry)
    try:
        recipe = load_recipe(args.recipe, args.overrides, registry=registry, paths_from=os.getcwd())
        problems = data_path_problems(recipe) if check_data else []
        if problems:
            raise RecipeError(problems, source=args.recipe)
        return recipe
    except RecipeError as exc:
        print(exc.report(), file=sys.stderr)
        return None


def cmd_validate(args: argparse.Namespace) -> int:
    """Check a recipe and that its data paths exist; when valid, print the components it will
    use and where defaults came from."""
    recipe = _load_recipe(args, check_data=True)
    if recipe is None:
        return EXIT_INVALID
    import yaml

    from invprob.recipe import COMPONENT_SECTIONS, default_metric_names

    def describe(spec) -> str:
        params = f" {yaml.safe_dump(spec.params, default_flow_style=True, width=10**6).strip()}" if spec.params else ""
        weight = f" (weight {spec.weight:g})" if getattr(spec, "weight", 1.0) != 1.0 else ""
        return f"{spec.type}{params}{weight}"

    print(f"{args.recipe}: valid ({recipe.solver.type} on {recipe.operator.type})")
    for section in COMPONENT_SECTIONS:
        value = getattr(recipe, section)
        specs = value if isinstance(value, list) else [] if value is None else [value]
        note = f"  [default of solver {recipe.solver.type!r}]" if section in recipe.from_solver_defaults else ""
        print(f"  {section + ':':11}{', '.join(describe(s) for s in specs) or 'none'}{note}")
    if recipe.metrics is not None:
        print(f"  {'metrics:':11}{', '.join(recipe.metrics) or 'none'}")
    else:
        names = ", ".join(default_metric_names(default_registry())) or "none"
        print(f"  {'metrics:':11}{names}  [every installed metric with default params]")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    recipe = _load_recipe(args)
    if recipe is None:
        return EXIT_INVALID

    from invprob.app.execute import run

    try:
        result = run(recipe, out=args.out, name=args.name, device=args.device, show_progress=not args.quiet)
    except KeyboardInterrupt as exc:
        _print_error(f"aborted ({signal_name(getattr(exc, 'signum', 2))}): no result was written")
        _say_where(exc, "aborted")
        return exit_code(getattr(exc, "signum", None))
    except Exception as exc:  # noqa: BLE001 - a one-line cause, not a traceback, for users
        if is_input_error(exc):
            _print_error(error_text(exc))
            code = EXIT_INVALID
        else:
            code = command_failed("run", exc, show_traceback=args.traceback)
        _say_where(exc, "failed")
        return code
    metrics = result.metrics
    mean = metrics.get("mean", {})
    shown = ", ".join(f"{k} {v:.4g}" for k, v in mean.items() if isinstance(v, float))
    if result.interrupted:
        state = f"interrupted ({signal_name(result.signal)}), best so far" if result.signal else "interrupted, best so far"
    else:
        state = "diverged" if metrics.get("diverged") else "done"
    print(f"{state}: {metrics.get('images_solved', 0)} image(s); {shown}")
    print(f"results in {result.directory}")
    if metrics.get("failed_outputs"):
        missing = ", ".join(f["output"] for f in metrics["failed_outputs"])
        _print_error(f"{missing} could not be written (see failed_outputs in metrics.json); the numbers are kept")
    if result.interrupted:
        return exit_code(result.signal)
    return EXIT_FAILURE if metrics.get("diverged") or metrics.get("failed_outputs") else EXIT_OK


def _say_where(exc: BaseException, status: str) -> None:
    """Name the run directory of a run that ended with ``exc`` and what it keeps (its
    ``status.json`` says ``status``, when the disk let it be written)."""
    directory = getattr(exc, "run_directory", None)
    if directory is not None:
        from invprob.app.outputs import kept

        print(f"the run directory {directory}: {kept(directory)}", file=sys.stderr)


def plugins_listing(registry: Registry) -> dict[str, Any]:
    """What each distribution registered, and every failure: the shape ``plugins --json`` prints.

    ``{"distributions": [{name, version, components: {kind: [names]}, commands, error}],
    "failures": [{entry_point, distribution, version, error}], "clashes": [{kind, name,
    distributions}], "warnings": [str]}``; ``error`` joins the distribution's failures (None
    when it has none); a clash is a name that several distributions register (no recipe can
    use it unqualified); ``warnings`` say so, and name misspelled plugin switches.
    """

    def listing(dist: Distribution) -> dict[str, Any]:
        mine = dist.name
        return {
            "name": mine,
            "version": dist.version,
            "components": {
                kind: [n for n in registry.names(kind) if registry.components[kind][n].distribution == mine]
                for kind in KINDS
            },
            "commands": sorted(" ".join(w) for w, c in registry.commands.items() if c.distribution == mine),
            "error": "; ".join(f.error for f in registry.failures if f.distribution == mine) or None,
        }

    return {
        "distributions": [listing(d) for d in sorted(registry.distributions.values(), key=lambda d: d.name)],
        "failures": [
            {"entry_point": f.entry_point, "distribution": f.distribution, "version": f.version, "error": f.error}
            for f in registry.failures
        ],
        "clashes": [
            {"kind": kind, "name": name, "distributions": [c.distribution for c in owners]}
            for kind in KINDS
            for name, owners in sorted(registry.ambiguous[kind].items())
        ],
        "warnings": list(registry.warnings),
    }


def _defaults_text(component: Component) -> str:
    """``yeh (defaults: losses context; priors discriminator, box)`` for a solver with defaults."""
    sections = component.defaults.items()
    shown = "; ".join(f"{key} {', '.join(item['type'] for item in items) or '[]'}" for key, items in sections)
    return f"{component.name} (defaults: {shown})" if shown else component.name


def _summary(distribution: str) -> str:
    """The one-line summary (pyproject ``description``) of an installed distribution."""
    try:
        summary = importlib.metadata.metadata(distribution)["Summary"]
    except importlib.metadata.PackageNotFoundError:  # registered from Python, not installed
        summary = None
    return summary or "(no components or commands)"


def cmd_plugins(args: argparse.Namespace) -> int:
    registry = default_registry()
    listing = plugins_listing(registry)
    if args.json:
        print(json.dumps(listing, indent=2))
        return EXIT_OK
    for dist in listing["distributions"]:
        print(f"{dist['name']} {dist['version'] or ''}".rstrip())
        for kind, names in dist["components"].items():
            if names:
                print(f"  {kind}: {', '.join(_defaults_text(registry.components[kind][n]) for n in names)}")
        if dist["commands"]:
            print(f"  commands: {', '.join(dist['commands'])}")
        if not (any(dist["components"].values()) or dist["commands"] or dist["error"]):
            print(f"  {_summary(dist['name'])}")  # a hook's or a Python API's distribution: what it is
        if dist["error"]:
            print(f"  FAILED: {dist['error']}")
    if listing["clashes"]:
        print("\nnames registered by more than one distribution (a recipe must say which, "
              "e.g. `type: DISTRIBUTION:NAME`):")  # fmt: skip
        for clash in listing["clashes"]:
            print(f"  {singular(clash['kind'])} {clash['name']!r}: {', '.join(clash['distributions'])}")
    for warning in registry.warnings:
        print(f"warning: {warning}")
    if registry.failures:
        print(f"\n{len(registry.failures)} plugin(s) failed; set INVPROB_STRICT_PLUGINS=1 for tracebacks")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from invprob.schema import recipe_json_schema

    print(json.dumps(recipe_json_schema(default_registry()), indent=2))
    return EXIT_OK


def build_parser(registry: Registry | None, argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``invprob`` parser with the core's commands and every plugin command. Given the
    ``argv`` about to be parsed, only the plugin command it names gets its options (the others
    are listed with their help): building every command's options is a good part of start-up."""
    parser = argparse.ArgumentParser(
        prog="invprob",
        description="Solve imaging inverse problems with deep generative priors, from YAML recipes.",
        epilog="Example: invprob run recipes/demo.yaml solver.params.steps=200",
    )
    parser.add_argument("--version", action="version", version=f"invprob {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run a recipe and write a new run directory")
    p.add_argument("recipe", help=RECIPE_HELP)
    p.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    p.add_argument("--out", help="parent folder of the run directory (default: the recipe's outputs.dir, else ./runs)")
    p.add_argument("--name", help="name of the run directory (default: <timestamp>-<id>); an existing one is refused")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="override the recipe's device")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--traceback", action="store_true", help="show the full traceback on failure (as INVPROB_TRACEBACK=1)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a recipe without running it; lists every error")
    p.add_argument("recipe", help=RECIPE_HELP)
    p.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plugins", help="list installed plugin distributions, their components and failures")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("schema", help="print the JSON Schema of recipes with every installed component")
    p.set_defaults(func=cmd_schema)

    if registry is not None:
        _add_plugin_commands(sub, registry, argv)
    return parser


def _add_plugin_commands(sub: argparse._SubParsersAction, registry: Registry, argv: Sequence[str] | None) -> None:
    named = list(itertools.takewhile(lambda word: not word.startswith("-"), argv or []))
    groups: dict[str, argparse._SubParsersAction] = {}
    for words, command in sorted(registry.commands.items()):
        parent = sub
        for depth, word in enumerate(words[:-1]):
            key = " ".join(words[: depth + 1])
            if key not in groups:
                existing = parent.choices.get(word) if parent.choices else None
                group_parser = existing or parent.add_parser(word, help=f"{word} commands")
                # `invprob study` alone: its commands, exit 2
                group_parser.set_defaults(func=lambda args, shown=group_parser: shown.print_help() or EXIT_INVALID)
                groups[key] = group_parser.add_subparsers(dest=f"command_{depth + 1}", metavar="COMMAND")
            parent = groups[key]
        p = parent.add_parser(words[-1], help=f"{command.help} [{command.distribution}]")
        if argv is None or list(words) == named[: len(words)]:
            command.configure(p)
        p.set_defaults(func=_plugin_command(command))


def missing_command_message(registry: Registry, argv: Sequence[str]) -> str | None:
    """Why ``argv`` names no installed command when it names a first-party one
    (:data:`invprob.first_party.FIRST_PARTY` ``["commands"]``): ``invprob study run`` without
    ``invprob-studies`` says which distribution to install instead of argparse's "invalid
    choice"; None when ``argv`` names an installed command or no first-party one."""
    from invprob.first_party import FIRST_PARTY
    from invprob.hints import first_party_message

    words = tuple(itertools.takewhile(lambda word: not word.startswith("-"), argv))
    commands = [tuple(name.split()) for name in FIRST_PARTY.get("commands", {})]
    shared = max((len(os.path.commonprefix([command, words])) for command in commands), default=0)
    given = words[:shared]
    if not given or any(installed[:shared] == given for installed in registry.commands):
        return None  # no first-party command, or words argparse knows: it takes it from here
    meant = [" ".join(command) for command in commands if command[:shared] == given]
    whys = dict.fromkeys(f"{first_party_message(registry, 'commands', name)}" for name in meant)
    if len(whys) == 1:
        return f"unknown command 'invprob {' '.join(given)}': {next(iter(whys))}"
    named = (f"'invprob {name}' {first_party_message(registry, 'commands', name).removeprefix('it ')}" for name in meant)
    return f"unknown command 'invprob {' '.join(given)}': {'; '.join(named)}"


def _plugin_command(command: Any) -> Callable[[argparse.Namespace], int]:
    """A plugin command's ``run`` with one-line errors: exit 2 for a wrong input (a missing
    or unreadable file, a value the command refuses), 1 for anything else; the traceback with
    ``INVPROB_TRACEBACK=1``. The plugins that failed to load are named first, as for ``run``."""

    def run(args: argparse.Namespace) -> int:
        report_plugin_failures(default_registry())
        try:
            return command.run(args)
        except (KeyboardInterrupt, BrokenPipeError):
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit from a plugin included
            if isinstance(exc, SystemExit):
                return exc.code if isinstance(exc.code, int) else EXIT_FAILURE if exc.code else EXIT_OK
            invalid = is_input_error(exc) or isinstance(
                exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, ValueError)
            )
            return command_failed(f"invprob {' '.join(command.name)}", exc, invalid=invalid)

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; SIGINT and SIGTERM end it without a traceback (exit 128 + signal)."""
    interrupts = Interrupts("abort")
    try:
        with interrupts.installed():
            return _main(argv)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", interrupts.signum)
        _print_error(f"interrupted ({signal_name(signum) if signum else 'SIGINT'})")
        return exit_code(signum)


def _main(argv: Sequence[str] | None) -> int:
    from invprob.registry import PluginLoadError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        registry = default_registry()
    except PluginLoadError as exc:  # only in strict mode (INVPROB_STRICT_PLUGINS=1)
        _print_error(str(exc))
        if exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        return EXIT_FAILURE
    missing = missing_command_message(registry, argv)
    if missing is not None:
        _print_error(missing)
        return EXIT_INVALID
    parser = build_parser(registry, argv)
    args, extra = parser.parse_known_args(argv)
    if extra and hasattr(args, "overrides") and not any(e.startswith("-") for e in extra):
        args.overrides = [*args.overrides, *extra]  # overrides given after an option
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_INVALID if argv else EXIT_OK
    try:
        code = args.func(args)
    except BrokenPipeError:  # output piped into head & co.
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - any command: one line and the same traceback hint
        return command_failed(f"invprob {args.command}", exc, invalid=is_input_error(exc))
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
