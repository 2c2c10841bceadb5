"""``invprob new-plugin``: the skeleton of each kind installs, is listed by ``invprob plugins``
and passes its own conformance tests; a bad name or an existing folder is one line, exit 2."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest

LONG = "a" * 300
"""A file name over the 255 bytes every common file system allows."""


SKELETON_KINDS = ("operator", "generator", "prior", "solver")


@dataclass(frozen=True)
class Skeletons:
    """What became of the ``new-plugin`` skeleton of each kind, installed together."""

    listing: dict
    """``invprob plugins --json`` in a fresh, strict process that finds the skeletons installed."""
    tests: dict[str, subprocess.CompletedProcess]
    """``pytest`` run in each skeleton's folder (its own configuration), by kind."""


@pytest.fixture(scope="module")
def skeletons(tmp_path_factory: pytest.TempPathFactory, invprob_cli, invprob_command) -> Skeletons:
    """A skeleton of each kind, written by the command, installed by one ``pip install`` into one
    site folder, listed by one strict ``invprob plugins``, and tested by four concurrent ``pytest``s
    (what a plugin author runs: a process per step, the plugins found in the environment)."""
    root = tmp_path_factory.mktemp("skeletons")
    folders = {kind: root / f"invprob-plugin-my-{kind}" for kind in SKELETON_KINDS}
    for kind, out in folders.items():
        written = invprob_cli(["new-plugin", f"my-{kind}", "--kind", kind, "--out", str(out)])
        assert written.returncode == 0, written.stderr
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), *map(str, folders.values())], check=True, capture_output=True, timeout=300)  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(site), "INVPROB_STRICT_PLUGINS": "1"}
    listing = json.loads(subprocess.run([*invprob_command, "plugins", "--json"], env=env, capture_output=True, text=True,
                                        check=True, timeout=300).stdout)  # fmt: skip
    running = {kind: subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(out / "tests")],
                                      cwd=out, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for kind, out in folders.items()}  # fmt: skip
    tests = {}
    for kind, process in running.items():
        stdout, _ = process.communicate(timeout=300)
        tests[kind] = subprocess.CompletedProcess(process.args, process.returncode, stdout)
    return Skeletons(listing, tests)


@pytest.mark.slow
@pytest.mark.parametrize("kind", SKELETON_KINDS)
def test_new_plugin_writes_a_skeleton_that_installs_and_passes_its_conformance_tests(kind, skeletons):
    ours = next(d for d in skeletons.listing["distributions"] if d["name"] == f"invprob-plugin-my-{kind}")
    assert ours["components"][f"{kind}s"] == [f"my-{kind}"] and ours["error"] is None
    tests = skeletons.tests[kind]
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert re.search(r"\d+ passed", tests.stdout)


def test_new_plugin_refuses_a_bad_name_and_an_existing_folder(invprob_cli, tmp_path):
    bad = invprob_cli(["new-plugin", "My_Blur", "--kind", "operator", "--out", str(tmp_path / "a")])
    assert bad.returncode == 2 and "lowercase letters" in bad.stderr
    (tmp_path / "b").mkdir()
    existing = invprob_cli(["new-plugin", "blurry", "--kind", "operator", "--out", str(tmp_path / "b")])
    assert existing.returncode == 2 and "already exists" in existing.stderr


def test_new_plugin_says_what_it_wrote_in_plain_english(invprob_cli, tmp_path):
    done = invprob_cli(["new-plugin", "blurry", "--kind", "operator", "--out", str(tmp_path / "c")])
    assert done.returncode == 0 and "an operator named 'blurry'" in done.stdout
    from invprob.hints import with_article

    assert [with_article(w) for w in ("operator", "loss", "int", "OrderedDict")] == [
        "an operator", "a loss", "an int", "an OrderedDict"]


def test_a_path_over_255_bytes_is_one_line(invprob_cli, tmp_path):
    scaffold = invprob_cli(["new-plugin", LONG, "--kind", "operator", "--out", str(tmp_path / "x")])
    assert scaffold.returncode == 2, scaffold.stderr
    assert scaffold.stderr.startswith("error: invprob new-plugin: the name '") and "315 bytes long" in scaffold.stderr
    assert len(scaffold.stderr.strip().splitlines()) == 1
    named = invprob_cli(["new-plugin", "blur", "--kind", "operator", "--out", str(tmp_path / LONG)])
    assert named.returncode == 2 and "bytes long; the file system allows 255" in named.stderr, named.stderr
