"""Wrong inputs a hostile or hurried user gives: each is one line in the user's words that names
the field or file, exit 2, never a traceback, never advice to load a file unsafely; and every
command that fails says the same thing about tracebacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from invprob.app import cli
from invprob.app.data import load_observations
from invprob.images import DataError, list_images
from invprob.recipe import RecipeError, load_recipe

REPO = Path(__file__).resolve().parents[1]
LONG = "a" * 300
"""A file name over the 255 bytes every common file system allows."""


# -- paths over 255 bytes --------------------------------------------------------------------


def test_a_path_over_255_bytes_is_one_line_in_validate_and_run(invprob_cli, toy_env, toy_recipe, tmp_path):
    for pattern in (f"{LONG}.png", f"{LONG}/*.png"):
        result = invprob_cli(["validate", str(toy_recipe), "~data.samples", f"data.images={tmp_path / pattern}"], toy_env)
        assert result.returncode == 2, result.stderr
        assert "data.images: the name 'aaaaaaaaaaaaaaaaaaaaaaaa...aaaa" in result.stderr
        assert "bytes long; the file system allows 255" in result.stderr and "Traceback" not in result.stderr
    run = invprob_cli(["run", str(toy_recipe), "--out", str(tmp_path), "--name", LONG, "--quiet"], toy_env)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr


# -- observations and image archives ---------------------------------------------------------


def test_a_random_bytes_npy_observation_is_not_a_valid_npy_array_and_no_advice_to_unpickle(tmp_path):
    path = tmp_path / "y.npy"
    path.write_bytes(np.random.default_rng(0).bytes(512))
    with pytest.raises(DataError) as raised:
        load_observations(path, (4,))
    message = str(raised.value)
    assert message.startswith(f"data.observation: {path} is not a valid .npy array")
    assert "pickle" not in message


def test_an_npy_of_python_objects_is_refused_without_advice_to_unpickle(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError) as raised:
        load_observations(path, (4,))
    message = str(raised.value)
    assert "holds Python objects (a pickle), which invprob never loads" in message
    assert "allow_pickle" not in message


@pytest.mark.parametrize("content", ["not a zip", "objects"])
def test_a_bad_npz_is_reported_under_the_field_that_names_it(tmp_path, content):
    path = tmp_path / "y.npz"
    if content == "objects":
        np.savez(path, images=np.array([{"a": 1}], dtype=object))
    else:
        path.write_bytes(b"not a zip at all")
    for field in ("data.observation", "data.images"):
        with pytest.raises(DataError) as raised:
            list_images(path, field=field)
        assert str(raised.value).startswith(f"{field}: {path} is not a readable .npz"), raised.value
        assert "allow_pickle" not in str(raised.value)
        assert ("not a zip archive" if content == "not a zip" else "holds Python objects") in str(raised.value)
    with pytest.raises(DataError, match=r"^data\.observation: .* is not a readable \.npz"):
        load_observations(path, (3, 4, 4))


# -- pydantic's internals --------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_registry():
    """The core and the first-party plugins."""
    from invprob.first_party import PLUGIN_DISTRIBUTIONS
    from invprob.registry import new_registry

    return new_registry(strict=False, only=set(PLUGIN_DISTRIBUTIONS))


def messages(data, registry, overrides=()) -> list[str]:
    with pytest.raises(RecipeError) as raised:
        load_recipe(data, overrides, registry=registry)
    return [str(p) for p in raised.value.problems]


def test_pydantic_class_names_and_union_members_never_show(real_registry):
    recipe = REPO / "recipes/ilo-inpaint-dcgan64.yaml"
    problems = messages(recipe, real_registry, ["losses=[mse]", "solver.params.steps=many", "generator=dcgan64-faces"])
    text = "\n".join(problems)
    assert "LossSpec" not in text and "ComponentSpec" not in text and "instance of" not in text
    assert "losses[0]: Input should be a component, a mapping such as {type: mse} (got: 'mse')" in problems
    assert "generator: Input should be a component, a mapping such as {type: dcgan64-faces} (got: 'dcgan64-faces')" in problems
    (steps,) = [p for p in problems if p.startswith("solver.params.steps")]
    assert steps.startswith("solver.params.steps: Input should be a valid integer or a valid list (got: 'many')"), steps
    assert ".int" not in text and "list[int]" not in text and "constrained" not in text


def test_a_union_of_a_number_and_a_pair_is_one_problem_at_the_field(real_registry):
    problems = messages(REPO / "recipes/yeh-inpaint-dcgan64.yaml", real_registry, ["operator.params.size=big"])
    (size,) = [p for p in problems if p.startswith("operator.params.size")]
    assert size.startswith("operator.params.size: Input should be a valid integer or a valid tuple"), size


# -- one traceback hint ----------------------------------------------------------------------


def test_every_failing_command_ends_with_the_same_traceback_hint(invprob_cli, toy_env, toy_recipe, tmp_path, monkeypatch, capsys):
    failed = invprob_cli(["run", str(toy_recipe), "--out", str(tmp_path), "--quiet", "data.samples=1",
                                      "solver.params.raise_error=true"], toy_env)  # fmt: skip
    assert failed.returncode == 1
    assert failed.stderr.rstrip().endswith(cli.TRACEBACK_HINT) or cli.TRACEBACK_HINT in failed.stderr
    shown = invprob_cli(["run", str(toy_recipe), "--out", str(tmp_path), "--quiet", "data.samples=1",
                                     "solver.params.raise_error=true"], {**toy_env, "INVPROB_TRACEBACK": "1"})  # fmt: skip
    assert "Traceback (most recent call last)" in shown.stderr and cli.TRACEBACK_HINT not in shown.stderr

    def boom(args):
        raise RuntimeError("schema exploded")

    monkeypatch.delenv("INVPROB_TRACEBACK", raising=False)
    monkeypatch.setattr(cli, "cmd_schema", boom)  # a core command failing where nobody expected it
    assert cli.main(["schema"]) == 1
    err = capsys.readouterr().err
    assert "error: invprob schema failed: RuntimeError: schema exploded" in err and cli.TRACEBACK_HINT in err

    from invprob.registry import Command

    command = Command(("measure", "it"), "measure", lambda parser: None, boom, "some-plugin")
    assert cli._plugin_command(command)(None) == 1
    err = capsys.readouterr().err
    assert "error: invprob measure it failed: RuntimeError: schema exploded" in err and cli.TRACEBACK_HINT in err
    source = (REPO / "core/invprob/app/cli.py").read_text() + (REPO / "plugins/studies/invprob_studies/cli.py").read_text()
    assert "for details" not in source, "one hint, from command_failed"
