"""Fuzzing recipe validation: whatever a user writes, ``load_recipe`` ends quickly in a valid
recipe or in a :class:`~invprob.recipe.RecipeError` with one line per problem.

Two sources of cases:

- a seeded mutator over the project's recipes (``recipes/*.yaml``): it edits their text
  (bytes, lines, YAML tags, anchors and aliases, nesting), their parsed values (through the
  Python API, with values YAML cannot even write: cycles, ``10**5000``, objects with a huge
  repr) and their command-line overrides, drawing from a vocabulary of inputs known to have
  broken validation (issue 9). Case ``i`` of seed ``s`` is always the same case.
- hypothesis, which builds values, override strings and text from scratch.

``INVPROB_FUZZ_CASES`` sets how many mutator cases run (default 300, a few seconds) and
scales the hypothesis examples with it. To measure instead of test, each case in a child
process that is killed when it runs past the time limit or the memory cap::

    .venv/bin/python tests/test_recipe_fuzz.py --cases 10000 --seed 0

prints the cases, valid recipes, clean errors, tracebacks (grouped by where they were
raised) and hangs.
"""

from __future__ import annotations

import math
import os
import random
import re
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.yaml"))
SHARED = REPO.parent / "shared"
STYLEGAN2_FIXTURE = SHARED / "fixtures" / "stylegan2" / "checkpoint.pt"
PNG = REPO / "recipes" / "images" / "astronaut-face64.png"
TIME_LIMIT = 5.0
"""Seconds one case may take, on a loaded two-core CI machine (a valid recipe takes ~10 ms)."""
LINE_LIMIT = 1000
"""The longest line a problem may print: every value in a message is shown shortened."""
CASES = int(os.environ.get("INVPROB_FUZZ_CASES", "300"))


# -- the vocabulary of hostile inputs ------------------------------------------------------------


def _alias_bomb(levels: int = 8, width: int = 9) -> str:
    lines = ["a0: &a0 [x]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines)


def _merge_bomb(levels: int = 24) -> str:
    lines = ["m0: &m0 {a: 1, b: 2}"]
    for level in range(1, levels + 1):
        lines.append(f"m{level}: &m{level} {{<<: [*m{level - 1}, *m{level - 1}], k{level}: 1}}")
    return "\n".join(lines)


YAML_SCALARS = [
    ".inf", "-.inf", ".nan", ".NaN", "!!float abc", "!!timestamp nope", "!!int 0b102", "!!int x",
    "!!bool maybe", "!!null x", "!!binary '@@@'", "!!float 1e400", "1e400", "-1e400", "!!str 1",
    "9" * 5000, "-" + "9" * 4400, "0x" + "f" * 4000, "1_000", "0o17", "0b101", "1:30:00", "2001-12-14",
    "2001-13-45", "-1", "0", "1", "2", "3.5", "-0.0", str(2**64), str(2**63), str(-(2**63) - 1),
    str(2**63 - 1), "1e308", "~nosuchuser/x.png", "~", "~/x.png", "null", "true", "false", "''",
    "'a\\nb'", '"\\x00"', '"\\ud800"', "€", "'" + "x" * 20000 + "'", "[]", "{}", "[1, [2, [3]]]",
    "!!python/object:os.system", "!!python/name:os.system", "!!set {a, b}", "!!omap [a: 1]",
    "!!pairs [a: 1, a: 2]", "&x [*x]", "&y {k: *y}", "*undefined", "{[1]: 2}", "{{a: 1}: 2}",
    "[" * 1000 + "]" * 1000, "{a: " * 1000 + "1" + "}" * 1000, "!custom 1", "!<tag:x> 1",
    "'-64:'", "'-:'", "' '", "':'", "'::2'", "'1:2:3'", "'" + "9" * 5000 + ":'", "'a:b'", "'-8:'",
]
"""Values as YAML text: tags that raise inside PyYAML, non-finite and huge numbers, deep nesting."""


class _HugeRepr:
    """An object whose repr is 50 MB (the Python API accepts anything)."""

    def __repr__(self) -> str:
        return "x" * 50_000_000


class _RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr failed")


def _deep_dict(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        node = {"a": node}
    return node


def _deep_list(depth: int) -> list[Any]:
    node: list[Any] = [1]
    for _ in range(depth):
        node = [node]
    return node


def _cycle() -> list[Any]:
    node: list[Any] = [1]
    node.append(node)
    return node


def _wide_dag(levels: int = 8, width: int = 9) -> list[Any]:
    node: list[Any] = ["x"]
    for _ in range(levels):
        node = [node] * width
    return node


PYTHON_VALUES: list[Callable[[], Any]] = [
    lambda: math.inf, lambda: -math.inf, lambda: math.nan, lambda: 10**5000, lambda: -(10**5000),
    lambda: 2**64, lambda: -(2**63) - 1, lambda: 2**63, lambda: True, lambda: None, lambda: "",
    lambda: "x" * 1_000_000, lambda: "a\nb\rc", lambda: "\x00", lambda: "~nosuchuser/x.png", lambda: b"\xff",
    lambda: {1, 2}, lambda: (1, 2), lambda: object(), lambda: _HugeRepr(), lambda: _RaisingRepr(),
    lambda: _deep_dict(800), lambda: _deep_list(800), lambda: _deep_dict(60), lambda: _cycle(),
    lambda: _wide_dag(), lambda: {None: 1}, lambda: {(1, 2): 3}, lambda: {"x" * 100_000: 1},
    lambda: {"a\nb": 1}, lambda: [math.nan], lambda: {"type": "x" * 100_000}, lambda: 1e308 * 10,
    lambda: float("1e-400"), lambda: complex(1, 2), lambda: [[0.0] * 64] * 64,
]
"""Values only the Python API can hand over."""

KEYS = ["seed", "version", "type", "params", "weight", "select", "images", "samples", "steps", "lr",
        "fraction", "sigma", "noise_sigma", "window", "dir", "gif_every", "batch_size", "lam", "restarts",
        "nosuchfield", "<<", "", "x" * 5000, "a.b", "[0]", "~", "0"]  # fmt: skip
TYPE_NAMES = ["csgm", "yeh", "mse", "context", "box", "discriminator", "gaussian-norm", "inpaint-center",
              "inpaint-random", "compose", "blur-gaussian", "dcgan64-faces", "dcgan32-celeba", "tv-inpaint",
              "biharmonic-inpaint", "csgn", "nosuch", "", "x" * 10_000, "Yeh"]  # fmt: skip


# -- cases ---------------------------------------------------------------------------------------


@dataclass
class Case:
    """One input to ``load_recipe``: file bytes or a Python dict, plus overrides."""

    origin: str
    text: bytes | None = None
    data: Any = None
    overrides: list[str] = field(default_factory=list)


def _paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 8, seen: set[int] | None = None) -> Iterator[tuple[Any, ...]]:
    """The paths into a parsed recipe (dict keys and list indexes), at most ``depth`` deep,
    entering a shared container (an earlier step's alias bomb or cycle) once."""
    seen = set() if seen is None else seen
    yield prefix
    if depth == 0 or id(value) in seen:
        return
    if isinstance(value, (dict, list)):
        seen.add(id(value))
    if isinstance(value, dict):
        for key, child in list(value.items())[:50]:
            yield from _paths(child, (*prefix, key), depth - 1, seen)
    elif isinstance(value, list):
        for index, child in enumerate(value[:50]):
            yield from _paths(child, (*prefix, index), depth - 1, seen)


def _yaml_value(text: str) -> Any:
    """``text`` as YAML would read it, or the text itself where PyYAML fails."""
    try:
        return yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - the mutator wants a value, any value
        return text


def _dotted(path: tuple[Any, ...], rnd: random.Random) -> str:
    out = ""
    for part in path:
        if isinstance(part, int) and rnd.random() < 0.5:
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _bases() -> list[tuple[str, str, dict[str, Any]]]:
    """The shipped recipes, with ``../../shared/`` made absolute (a case is written to a temporary
    folder, and validation checks that weights exist); without ../shared, those naming weights
    there are left out."""
    out = []
    for path in RECIPES:
        text = path.read_text(encoding="utf-8")
        if "shared/weights" in text and not SHARED.is_dir():
            continue
        text = text.replace("../../shared/", f"{SHARED}/")
        if "type: stylegan2" in text:  # the checkpoint is a field the user fills: the fixture stands in
            if not STYLEGAN2_FIXTURE.is_file():
                continue
            text = re.sub(r"checkpoint: \S+", f"checkpoint: {STYLEGAN2_FIXTURE}", text)
        out.append((path.stem, text, yaml.safe_load(text)))
    return out


BASES = _bases()


def _mutate_text(text: str, rnd: random.Random) -> bytes:
    lines = text.splitlines()
    choice = rnd.randrange(12)
    if choice == 0 and lines:  # a value replaced by a hostile one
        index = rnd.randrange(len(lines))
        line = lines[index]
        if ":" in line:
            head = line.split(":", 1)[0]
            lines[index] = f"{head}: {rnd.choice(YAML_SCALARS)}"
    elif choice == 1 and lines:
        del lines[rnd.randrange(len(lines))]
    elif choice == 2 and lines:
        index = rnd.randrange(len(lines))
        lines.insert(index, lines[index])
    elif choice == 3 and len(lines) > 1:
        i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif choice == 4:  # anchors and aliases, now and then a bomb
        bombs = [_alias_bomb(), _merge_bomb(), _alias_bomb(levels=4), "x: &r [*r]"]
        benign = ["z: &a {type: mse}\nlosses: [*a, *a]", "base: &b {steps: 3}\nsolver: {type: csgm, params: {<<: *b}}"]
        lines.append(rnd.choice(bombs) if rnd.random() < 0.25 else rnd.choice(benign))
    elif choice == 5:
        lines.append(f"{rnd.choice(KEYS)}: {rnd.choice(YAML_SCALARS)}")
    elif choice == 6 and lines:  # indentation
        index = rnd.randrange(len(lines))
        lines[index] = rnd.choice(["  ", "\t", " "]) + lines[index] if rnd.random() < 0.7 else lines[index].lstrip()
    elif choice == 7:
        raw = bytearray(text.encode())
        for _ in range(rnd.randint(1, 4)):
            if raw:
                raw[rnd.randrange(len(raw))] = rnd.randrange(256)
        return bytes(raw)
    elif choice == 8:
        raw = text.encode()
        return raw[: rnd.randrange(len(raw) + 1)]
    elif choice == 9:
        return rnd.choice([PNG.read_bytes(), b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16"), b"\xff\xfe",
                           b"", b"\x00" * 10, "- a\n- b\n".encode(), b"just a string"])  # fmt: skip
    elif choice == 10 and lines:  # a component renamed
        index = rnd.randrange(len(lines))
        lines[index] = re.sub(r"type: [\w-]+", f"type: {rnd.choice(TYPE_NAMES)}", lines[index])
    else:
        lines.append(f"solver: {{type: {rnd.choice(TYPE_NAMES)}, params: {{steps: {rnd.choice(YAML_SCALARS)}}}}}")
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


def _set_at(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def _mutate_data(data: dict[str, Any], rnd: random.Random) -> Any:
    paths = list(_paths(data))[1:]
    path = rnd.choice(paths)
    choice = rnd.randrange(5)
    if choice == 0:
        value = rnd.choice(PYTHON_VALUES)()
    elif choice == 1:
        value = _yaml_value(rnd.choice(YAML_SCALARS))
    elif choice == 2:  # delete
        node = data
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]
        return data
    elif choice == 3:  # an extra key
        node = data
        for part in path[:-1]:
            node = node[part]
        if isinstance(node, dict):
            node[rnd.choice(PYTHON_VALUES)() if rnd.random() < 0.2 else rnd.choice(KEYS)] = rnd.choice(PYTHON_VALUES)()
        return data
    else:
        value = {"type": rnd.choice(TYPE_NAMES), "params": {rnd.choice(KEYS): rnd.choice(PYTHON_VALUES)()}}
    try:
        return _set_at(data, path, value)
    except TypeError:  # unhashable key
        return data


def _override(data: dict[str, Any], rnd: random.Random) -> str:
    path = rnd.choice(list(_paths(data))[1:])
    choice = rnd.randrange(8)
    if choice == 0:
        return "~" + _dotted(path, rnd)
    if choice == 1:
        return rnd.choice(["", "=", "~", ".=1", "a..b=1", "[0]=1", "losses.99999=1", "losses.-1=1", "losses[-5].weight=1",
                           "a." * 1000 + "b=1", "losses." + "9" * 5000 + "=1", "seed", "seed=!!float abc",
                           "seed=!!timestamp nope", "seed=!!int 0b102", "seed=" + "9" * 5000, "~nosuch.path",
                           "data.images=~nosuchuser/x.png", "solver.params.lr=.inf", "data.select=' '",
                           "x=" + "[" * 1000 + "]" * 1000, "seed=" + _alias_bomb().replace("\n", ", ")])  # fmt: skip
    if choice == 2:
        return f"{_dotted((*path, rnd.choice(KEYS)), rnd)}={rnd.choice(YAML_SCALARS)}"
    return f"{_dotted(path, rnd)}={rnd.choice(YAML_SCALARS)}"


def mutator_case(seed: int, index: int) -> Case:
    """Case ``index`` of the mutator seeded with ``seed``: the same case every time."""
    rnd = random.Random(f"{seed}:{index}")
    name, text, parsed = rnd.choice(BASES)
    kind = rnd.randrange(4)
    if kind == 0:
        return Case(f"text:{name}", text=_mutate_text(text, rnd))
    if kind == 1:
        data = yaml.safe_load(text)
        for _ in range(rnd.randint(1, 3)):
            try:
                data = _mutate_data(data, rnd) if isinstance(data, dict) else data
            except (TypeError, KeyError, IndexError):  # a path into a value the last step replaced
                pass
        return Case(f"data:{name}", data=data)
    if kind == 2:
        return Case(f"overrides:{name}", text=text.encode(), overrides=[_override(parsed, rnd) for _ in range(rnd.randint(1, 3))])
    raw = text
    for _ in range(rnd.randint(1, 3)):
        raw = _mutate_text(raw, rnd).decode("utf-8", "replace")
    return Case(f"text*:{name}", text=raw.encode("utf-8", "replace"), overrides=[_override(parsed, rnd)])


# -- running a case ------------------------------------------------------------------------------


class Hang(Exception):
    """A case ran past :data:`TIME_LIMIT`."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread after ``seconds`` (where Python code runs)."""

    def _expire(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds} s")

    if sys.platform == "win32" or not hasattr(signal, "setitimer"):
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_case(case: Case, registry: Any, folder: Path) -> tuple[str, str]:
    """``("valid" | "clean" | "traceback" | "hang", detail)`` for one case."""
    from invprob.recipe import Recipe, RecipeError, load_recipe

    started = time.perf_counter()
    try:
        with time_limit(TIME_LIMIT):
            if case.text is not None:
                path = folder / "case.yaml"
                path.write_bytes(case.text)
                result = load_recipe(path, case.overrides, registry=registry)
            else:
                result = load_recipe(case.data, case.overrides, registry=registry, base_dir=folder)
    except RecipeError as exc:
        with time_limit(TIME_LIMIT):
            lines = [str(problem) for problem in exc.problems]
        bad = [line for line in lines if "\n" in line or len(line) > LINE_LIMIT]
        if bad:
            return "traceback", f"RecipeError with a problem over one line or {LINE_LIMIT} characters: {bad[0][:200]!r}"
        outcome, detail = "clean", lines[0][:200] if lines else ""
    except Hang as exc:
        return "hang", str(exc)
    except MemoryError:
        return "hang", "MemoryError"
    except BaseException as exc:  # noqa: BLE001 - what the fuzzer is looking for
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        return "traceback", f"{type(exc).__name__} at {where}: {str(exc)[:150]}"
    else:
        if not isinstance(result, Recipe):
            return "traceback", f"load_recipe returned {type(result).__name__}"
        outcome, detail = "valid", ""
    elapsed = time.perf_counter() - started
    if elapsed > TIME_LIMIT:
        return "hang", f"took {elapsed:.1f} s"
    return outcome, detail


# -- the tests -----------------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # measuring without pytest installed
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="module")
    def registry():
        from invprob.registry import new_registry

        return new_registry()

    @pytest.fixture(scope="module")
    def folder(tmp_path_factory):
        """Where cases are written: with the recipes folder's data beside them (validation checks
        that a recipe's data paths exist, relative to its file)."""
        folder = tmp_path_factory.mktemp("fuzz")
        for entry in (REPO / "recipes").iterdir():
            if entry.is_dir():
                (folder / entry.name).symlink_to(entry.resolve(), target_is_directory=True)
        return folder

    def test_the_shipped_recipes_are_valid_before_mutation(registry, folder):
        for _, text, _ in BASES:
            assert run_case(Case("base", text=text.encode()), registry, folder) == ("valid", "")

    def test_mutated_recipes_end_in_a_recipe_or_a_one_line_recipe_error_in_time(registry, folder):
        failures = []
        outcomes: Counter[str] = Counter()
        for index in range(CASES):
            case = mutator_case(0, index)
            outcome, detail = run_case(case, registry, folder)
            outcomes[outcome] += 1
            if outcome in ("traceback", "hang"):
                failures.append(f"case {index} ({case.origin}): {outcome}: {detail}")
        assert not failures, "\n".join(failures[:20])
        assert outcomes["clean"] > CASES // 4, f"the mutator should mostly break recipes: {dict(outcomes)}"

    try:
        from hypothesis import HealthCheck, given, settings
        from hypothesis import strategies as st
    except ImportError:  # hypothesis is in requirements/test.txt; without it only the mutator runs
        given = None

    if given is not None:
        EXAMPLES = max(50, CASES // 3)
        _settings = settings(
            max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck),
        )  # fmt: skip
        _scalars = (
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
            | st.sampled_from(["~nosuchuser/x.png", "-8:", "inf", "nan", "1e400", "csgm", "mse"])
        )  # fmt: skip
        _values = st.recursive(
            _scalars,
            lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
            max_leaves=12,
        )
        _path = st.lists(st.sampled_from(KEYS[:20]) | st.integers(-3, 3).map(str), min_size=1, max_size=5).map(".".join)

        def _assert_clean(case: Case, registry, folder) -> None:
            outcome, detail = run_case(case, registry, folder)
            assert outcome in ("valid", "clean"), f"{outcome}: {detail}"

        @_settings
        @given(base=st.sampled_from(BASES), path=_path, value=_values)
        def test_any_value_anywhere_through_the_python_api(registry, folder, base, path, value):
            data = yaml.safe_load(base[1])
            node = data
            parts = path.split(".")
            for part in parts[:-1]:
                child = node.get(part) if isinstance(node, dict) else None
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
            node[parts[-1]] = value
            _assert_clean(Case("hypothesis:data", data=data), registry, folder)

        @_settings
        @given(base=st.sampled_from(BASES), overrides=st.lists(st.text(max_size=40) | st.tuples(_path, st.text(max_size=20)).map("=".join), max_size=3))
        def test_any_override_string(registry, folder, base, overrides):
            _assert_clean(Case("hypothesis:overrides", text=base[1].encode(), overrides=overrides), registry, folder)

        @_settings
        @given(base=st.sampled_from(BASES), start=st.integers(0, 2000), length=st.integers(0, 50), junk=st.binary(max_size=30) | st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")))
        def test_any_bytes_spliced_into_a_recipe_file(registry, folder, base, start, length, junk):
            raw = base[1].encode()
            start = min(start, len(raw))
            _assert_clean(Case("hypothesis:text", text=raw[:start] + junk + raw[start + length :]), registry, folder)


# -- measuring: python tests/test_recipe_fuzz.py --cases N --seed S --------------------------------


def _worker(connection: Any, memory_cap: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))
    from invprob.registry import default_registry

    registry = default_registry()
    with tempfile.TemporaryDirectory() as folder:
        while True:
            item = connection.recv()
            if item is None:
                return
            seed, index = item
            try:
                case = mutator_case(seed, index)
                connection.send(run_case(case, registry, Path(folder)))
            except MemoryError:
                connection.send(("hang", "MemoryError"))


def measure(cases: int, seed: int, memory_cap: int = 2 << 30) -> int:
    """Run ``cases`` mutator cases, each in a child process, and print what they ended in."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    counts: Counter[str] = Counter()
    causes: Counter[str] = Counter()
    examples: dict[str, int] = {}
    worker = connection = None
    started = time.perf_counter()
    for index in range(cases):
        fresh = worker is None
        if worker is None:
            connection, child = context.Pipe()
            worker = context.Process(target=_worker, args=(child, memory_cap), daemon=True)
            worker.start()
        connection.send((seed, index))
        if connection.poll(TIME_LIMIT + (20 if fresh else 5)):  # a fresh worker loads the plugins first
            try:
                outcome, detail = connection.recv()
            except EOFError:
                outcome, detail = "traceback", "the process died"
        else:
            outcome, detail = "hang", f"killed after {TIME_LIMIT:.0f} s"
        if outcome == "hang" or not worker.is_alive():
            worker.kill()
            worker.join()
            worker = None
        counts[outcome] += 1
        if outcome in ("traceback", "hang"):
            cause = re.sub(r"\d{3,}", "N", detail.split(":", 2)[0] if outcome == "traceback" else detail)
            causes[f"{outcome}: {cause}"] += 1
            examples.setdefault(f"{outcome}: {cause}", index)
        if index and index % 1000 == 0:
            print(f"  {index} cases, {time.perf_counter() - started:.0f} s: {dict(counts)}", file=sys.stderr)
    if worker is not None:
        connection.send(None)
        worker.join(5)
    print(f"cases: {cases} (seed {seed}), {time.perf_counter() - started:.0f} s")
    for outcome in ("valid", "clean", "traceback", "hang"):
        print(f"  {outcome:10} {counts[outcome]:6}  ({100 * counts[outcome] / max(cases, 1):.1f}%)")
    for cause, count in causes.most_common():
        print(f"  {count:6}  {cause}  (e.g. case {examples[cause]})")
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Measure how fuzzed recipes end (see the module docstring).")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, help="print case N (its origin, text or data, overrides) and its outcome")
    args = parser.parse_args()
    if args.show is not None:
        from invprob.registry import default_registry

        case = mutator_case(args.seed, args.show)
        print(case.origin, case.overrides)
        import reprlib

        print(case.text[:2000].decode("utf-8", "replace") if case.text is not None else reprlib.repr(case.data))
        with tempfile.TemporaryDirectory() as folder:
            print(run_case(case, default_registry(), Path(folder)))
        sys.exit(0)
    sys.exit(measure(args.cases, args.seed))
