"""Fixtures for the core's tests: test plugins installed as real distributions."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import pytest

TOY_DIR = Path(__file__).resolve().parent / "toyplugin"
REPO_ROOT = Path(__file__).resolve().parents[1]


def write_distribution(site: Path, name: str, version: str, entry_points: dict[str, str]) -> None:
    """Write a minimal installed distribution (``.dist-info``) that declares ``entry_points``."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[invprob]", *(f"{ep} = {module}" for ep, module in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def toy_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site folder with a working, a broken and a misspelled test plugin distribution."""
    site = tmp_path_factory.mktemp("site")
    write_distribution(site, "invprob-toy-plugin", "1.2.3", {"toy": "invprob_toy_plugin"})
    write_distribution(site, "invprob-broken-plugin", "0.0.1", {"broken": "broken_plugin"})
    write_distribution(site, "invprob-misspelled-plugin", "0.0.2", {"misspelled": "misspelled_plugin"})
    return site


@pytest.fixture(scope="session")
def misbehaving_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site folder with plugins that call sys.exit(), raise KeyboardInterrupt, print or (with
    ``INVPROB_TEST_SLOW_IMPORT``) sleep at import."""
    site = tmp_path_factory.mktemp("misbehaving-site")
    write_distribution(site, "invprob-exiting-plugin", "0.1", {"exiting": "exiting_plugin"})
    write_distribution(site, "invprob-interrupting-plugin", "0.1", {"interrupting": "interrupting_plugin"})
    write_distribution(site, "invprob-printing-plugin", "0.1", {"printing": "printing_plugin"})
    write_distribution(site, "invprob-slow-plugin", "0.1", {"slow": "slow_plugin"})
    return site


CLASHING_DISTRIBUTIONS = {"before": "aa-clashing-plugin", "after": "zz-clashing-plugin"}
"""The clashing test plugin under a name that sorts before, and one that sorts after, the
toy plugin's: the two orders in which the plugins are loaded."""


@pytest.fixture(scope="session", params=sorted(CLASHING_DISTRIBUTIONS))
def clash_site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site folder with a distribution that re-registers the toy plugin's solver name and
    the core's ``mse`` loss; once loaded before the toy plugin, once after it."""
    name = CLASHING_DISTRIBUTIONS[request.param]
    site = tmp_path_factory.mktemp(f"clash-site-{request.param}")
    write_distribution(site, name, "3.0", {"clash": "clashing_plugin"})
    return site


@pytest.fixture
def clash_distribution(clash_site: Path) -> str:
    """The name of the clashing distribution in ``clash_site``."""
    return next(site.name.split("-3.0")[0].replace("_", "-") for site in clash_site.glob("*.dist-info"))


@pytest.fixture
def toy_path(toy_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the test distributions on ``sys.path`` for this test, non-strict."""
    monkeypatch.syspath_prepend(str(TOY_DIR))
    monkeypatch.syspath_prepend(str(toy_site))
    monkeypatch.delenv("INVPROB_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("INVPROB_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("INVPROB_DISABLE_PLUGINS", raising=False)
    importlib.invalidate_caches()
    return toy_site


@pytest.fixture
def toy_registry(toy_path: Path):
    """A registry loaded from real entry points, including the test plugins."""
    from invprob.registry import new_registry

    return new_registry(strict=False)


@pytest.fixture
def toy_env(toy_site: Path) -> dict[str, str]:
    """Environment for ``invprob`` subprocesses that see the test plugins (non-strict)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVPROB_")}
    env["PYTHONPATH"] = os.pathsep.join([str(toy_site), str(TOY_DIR), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["INVPROB_DISABLE_PLUGINS"] = "invprob-broken-plugin,invprob-misspelled-plugin"
    return env


@pytest.fixture(scope="session")
def invprob_command() -> list[str]:
    """The command line that runs the CLI with this interpreter."""
    return [sys.executable, "-m", "invprob.app.cli"]


TOY_RECIPE = """\
# invprob run recipe.yaml
version: 1
seed: 0
device: cpu
generator: {type: toy-generator}
operator: {type: toy-mask}
priors:
  - {type: toy-norm, params: {weight: 0.001}}
losses:
  - {type: mse}
solver: {type: toy-descent, params: {steps: 15, restarts: 2}}
data: {samples: 3, batch_size: 2}
metrics: [psnr, ssim, mse]
outputs: {gif: true, gif_every: 5}
"""


@pytest.fixture
def toy_recipe(tmp_path: Path) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(TOY_RECIPE)
    return path


class CommandResult(NamedTuple):
    """What ``invprob ARGS`` left: its exit status and what it printed (``CompletedProcess``'s
    fields, so that a test reads the same whether the command ran in this process or another)."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def invprob_cli() -> Callable[..., CommandResult]:
    """``invprob_cli(args, env=None, cwd=None)``: the command line run in this process.

    Starting an interpreter, importing torch and loading every plugin takes seconds per command;
    this runs the CLI's ``main`` here instead, with what a fresh process would start from: the
    environment ``env`` (``os.environ`` when None; its ``PYTHONPATH`` entries put first on
    ``sys.path``), the working directory ``cwd``, a registry loaded anew from the entry points,
    and the modules found on ``PYTHONPATH`` imported anew (a plugin that prints or fails at
    import does so again). All of it is put back afterwards. ``argparse``'s exits (``--help``,
    usage errors) become the exit status. Keep a real subprocess where the process is what is
    tested: signals, start-up imports, strict loading at interpreter start, console scripts.
    """
    return run_in_process


def run_in_process(args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> CommandResult:
    """Run ``invprob ARGS`` in this process (see the ``invprob_cli`` fixture)."""
    from invprob.app.cli import main  # the module invprob_command runs

    stdout, stderr = io.StringIO(), io.StringIO()
    with _process_state(dict(os.environ if env is None else env), cwd):
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help, a usage error
                code = exc.code if isinstance(exc.code, int) else 1 if exc.code else 0
    return CommandResult(code, stdout.getvalue(), stderr.getvalue())


@contextlib.contextmanager
def _process_state(env: dict[str, str], cwd: Path | None) -> Iterator[None]:
    """Inside: ``env`` as ``os.environ``, its ``PYTHONPATH`` first on ``sys.path``, ``cwd`` as the
    working directory, no module from ``PYTHONPATH`` imported yet, the default registry loaded
    anew on first use. Afterwards all of it as it was."""
    from invprob.registry import replace_default_registry

    extra = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]
    roots = tuple({os.path.join(path(entry), "") for entry in extra for path in (os.path.abspath, os.path.realpath)})

    def from_extra(module: object) -> bool:
        file = getattr(module, "__file__", None)
        return bool(roots) and isinstance(file, str) and file.startswith(roots)

    saved_environ, saved_path, saved_cwd = dict(os.environ), list(sys.path), os.getcwd()
    hidden = {name: module for name, module in sys.modules.items() if from_extra(module)}
    saved_registry = replace_default_registry(None)
    try:
        for name in hidden:
            del sys.modules[name]
        os.environ.clear()
        os.environ.update(env)
        sys.path[:0] = extra
        importlib.invalidate_caches()
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_environ)
        for name in [name for name, module in list(sys.modules.items()) if from_extra(module)]:
            del sys.modules[name]
        sys.modules.update(hidden)
        importlib.invalidate_caches()
        replace_default_registry(saved_registry)
