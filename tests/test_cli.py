"""The ``invprob`` command line: exit codes, listings, and that the quick commands stay quick."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def invoke(command: list[str], args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command + args, env=env, capture_output=True, text=True, timeout=300)


def test_plugins_json_lists_distributions_components_and_failures(invprob_cli, toy_env):
    env = {**toy_env, "INVPROB_DISABLE_PLUGINS": ""}
    result = invprob_cli(["plugins", "--json"], env)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    by_name = {d["name"]: d for d in listing["distributions"]}
    assert by_name["invprob-toy-plugin"]["components"]["operators"] == ["toy-mask"]
    assert by_name["invprob-toy-plugin"]["error"] is None
    assert by_name["invprob-broken-plugin"]["error"].startswith("ImportError")
    assert {"mse", "l1"} <= set(by_name["invprob-core"]["components"]["losses"])


def test_plugins_lists_failures_for_people(invprob_cli, toy_env):
    env = {**toy_env, "INVPROB_DISABLE_PLUGINS": ""}
    result = invprob_cli(["plugins"], env)
    assert result.returncode == 0
    assert "invprob-toy-plugin 1.2.3" in result.stdout
    assert "FAILED: ImportError: this plugin is broken on purpose" in result.stdout


def test_strict_mode_fails_the_command_on_a_broken_plugin_with_its_traceback(invprob_command, toy_env):
    env = {**toy_env, "INVPROB_DISABLE_PLUGINS": "", "INVPROB_STRICT_PLUGINS": "1"}
    result = invoke(invprob_command, ["plugins"], env)
    assert result.returncode == 1
    assert "invprob-broken-plugin" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr and 'broken_plugin.py", line 3' in result.stderr


def with_site(env: dict[str, str], site) -> dict[str, str]:
    return {**env, "PYTHONPATH": os.pathsep.join([str(site), env["PYTHONPATH"]])}


def test_plugins_that_exit_interrupt_or_print_at_import_cannot_take_the_cli_down(invprob_command, toy_env, misbehaving_site):
    env = with_site(toy_env, misbehaving_site)
    result = invoke(invprob_command, ["plugins", "--json"], env)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)  # nothing the plugins printed is in it
    errors = {f["distribution"]: f["error"] for f in listing["failures"]}
    assert errors["invprob-exiting-plugin"] == "the plugin called sys.exit(3) while loading"
    assert errors["invprob-interrupting-plugin"] == "the plugin raised KeyboardInterrupt while loading"
    by_name = {d["name"]: d for d in listing["distributions"]}
    assert by_name["invprob-printing-plugin"]["components"]["metrics"] == ["printed-metric"]
    assert "hello from printing_plugin at import" in result.stderr and "hello from printing_plugin's hook" in result.stderr
    assert "Traceback" not in result.stderr
    validated = invoke(invprob_command, ["validate", "--help"], env)
    assert validated.returncode == 0 and "usage: invprob validate" in validated.stdout


def test_a_misspelled_plugin_switch_is_reported(invprob_cli, toy_env):
    env = {**toy_env, "INVPROB_DISABLE_PLUGINS": "invprob-broken-plugin,invprob-misspeled-plugin"}
    result = invprob_cli(["plugins"], env)
    assert result.returncode == 0
    assert "INVPROB_DISABLE_PLUGINS names 'invprob-misspeled-plugin', which is not an installed" in result.stdout
    assert "did you mean 'invprob-misspelled-plugin'?" in result.stdout
    listing = json.loads(invprob_cli(["plugins", "--json"], env).stdout)
    assert any("'invprob-misspeled-plugin'" in warning for warning in listing["warnings"])


def test_a_clash_is_shown_by_plugins_and_makes_a_recipe_that_uses_the_name_invalid(
    invprob_cli, toy_env, toy_recipe, clash_site, clash_distribution
):
    env = with_site(toy_env, clash_site)
    listing = invprob_cli(["plugins"], env)
    assert listing.returncode == 0
    (line,) = [line for line in listing.stdout.splitlines() if line.startswith("  solver 'toy-descent': ")]
    assert "invprob-toy-plugin" in line and clash_distribution in line
    listing = json.loads(invprob_cli(["plugins", "--json"], env).stdout)
    assert {(c["kind"], c["name"]) for c in listing["clashes"]} == {("solvers", "toy-descent")}
    assert any(f"loss 'mse' of {clash_distribution} clashes with the first-party invprob-core's" in w
               for w in listing["warnings"])  # fmt: skip
    invalid = invprob_cli(["validate", str(toy_recipe)], env)
    assert invalid.returncode == 2
    assert "solver.type: solver 'toy-descent' is ambiguous" in invalid.stderr
    assert "'type: invprob-toy-plugin:toy-descent'" in invalid.stderr
    assert "losses[0]" not in invalid.stderr, "the core's mse is still the core's"
    named = ["solver.type=invprob-toy-plugin:toy-descent", "losses=[{type: 'invprob-core:mse'}]"]
    valid = invprob_cli(["validate", str(toy_recipe), *named], env)
    assert valid.returncode == 0, valid.stderr
    disabled = invprob_cli(["validate", str(toy_recipe)], {**env, "INVPROB_DISABLE_PLUGINS": clash_distribution})
    assert disabled.returncode == 0, disabled.stderr


def test_a_third_party_plugin_registering_first_party_names_leaves_the_shipped_recipes_valid(
    invprob_cli, toy_env, clash_site, clash_distribution
):
    env = with_site(toy_env, clash_site)
    recipes = Path(__file__).resolve().parents[1] / "recipes"
    face = recipes / "images/astronaut-face64.png"
    result = invprob_cli(["validate", str(recipes / "csgm-denoise-dcgan64.yaml"), f"data.images={face}"], env)
    assert result.returncode == 0, result.stderr
    assert f"warning: operator 'denoise' of {clash_distribution} clashes with the first-party invprob-plugin-imaging's" in result.stderr
    assert f"name the other 'type: {clash_distribution}:denoise'" in result.stderr


def test_validate_exit_codes(invprob_cli, toy_env, toy_recipe):
    ok = invprob_cli(["validate", str(toy_recipe)], toy_env)
    assert ok.returncode == 0, ok.stderr
    assert "valid (toy-descent on toy-mask)" in ok.stdout
    bad = invprob_cli(["validate", str(toy_recipe), "solver.params.stpes=3", "device=gpu"], toy_env)
    assert bad.returncode == 2
    assert "invalid recipe, 2 errors:" in bad.stderr
    assert "solver.params.stpes: unknown field 'stpes'; did you mean 'steps'?" in bad.stderr


def test_run_exit_codes(invprob_cli, toy_env, toy_recipe, tmp_path):
    out = str(tmp_path / "runs")
    ok = invprob_cli(["run", str(toy_recipe), "--out", out, "--quiet", "data.samples=1", "solver.params.steps=3"], toy_env)
    assert ok.returncode == 0, ok.stderr
    assert "results in" in ok.stdout
    invalid = invprob_cli(["run", str(toy_recipe), "--out", out, "~data.samples", "data.images=missing/*.png"], toy_env)
    assert invalid.returncode == 2
    assert "data.images: the pattern" in invalid.stderr and "matches no image file" in invalid.stderr
    failed = invprob_cli(["run", str(toy_recipe), "--out", out, "--quiet", "data.samples=1", "solver.params.raise_error=true"], toy_env)
    assert failed.returncode == 1
    assert "run failed: RuntimeError: the toy solver fails on purpose" in failed.stderr
    assert "Traceback" not in failed.stderr
    unusable = invprob_cli(["run", str(toy_recipe), "--out", str(toy_recipe), "--quiet"], toy_env)
    assert unusable.returncode == 2
    assert f"cannot use {toy_recipe} for run directories" in unusable.stderr


def test_run_name_names_the_directory_and_never_overwrites_it(invprob_cli, toy_env, toy_recipe, tmp_path):
    out = tmp_path / "runs"
    args = ["run", str(toy_recipe), "--out", str(out), "--name", "cell-0003", "--quiet", "data.samples=1", "solver.params.steps=2"]
    first = invprob_cli(args, toy_env)
    assert first.returncode == 0, first.stderr
    written = (out / "cell-0003" / "metrics.json").read_bytes()
    again = invprob_cli(args, toy_env)
    assert again.returncode == 2
    assert "cell-0003" in again.stderr and "already exists" in again.stderr
    assert (out / "cell-0003" / "metrics.json").read_bytes() == written
    assert [p.name for p in out.iterdir()] == ["cell-0003"]


def test_quick_commands_do_not_import_torch(toy_env, toy_recipe):
    code = (
        "import sys, io, contextlib\n"
        "from invprob.app.cli import main\n"
        f"for args in (['plugins'], ['schema'], ['validate', {str(toy_recipe)!r}]):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert main(args) == 0, args\n"
        "assert 'torch' not in sys.modules, 'a quick command imported torch'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=toy_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_listing_every_plugin_imports_no_torch_and_builds_no_params_model():
    """``invprob plugins`` loads every entry point: each stays light (torch, numpy, the recipe
    machinery and pydantic's validators are built when a component is, see
    benchmarks/bench_cli_startup.py)."""
    code = (
        "import sys, io, contextlib\n"
        "from invprob.app.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['plugins', '--json']) == 0\n"
        "from invprob.registry import default_registry\n"
        "heavy = sorted({'torch', 'numpy', 'yaml', 'invprob.recipe', 'invprob_studies.runner'} & set(sys.modules))\n"
        "assert not heavy, f'loading the plugins imported {heavy}'\n"
        "components = [c for kind in default_registry().components.values() for c in kind.qualified.values()]\n"
        "assert len(components) > 50, len(components)\n"
        "built = [c.name for c in components if c.params_model.__pydantic_complete__]\n"
        "assert not built, f'params models built at start-up: {built}'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVPROB_")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_schema_lists_installed_components_with_their_params(invprob_cli, toy_env):
    result = invprob_cli(["schema"], toy_env)
    schema = json.loads(result.stdout)
    solvers = schema["properties"]["solver"]["oneOf"]
    toy = next(v for v in solvers if v["properties"]["type"]["const"] == "toy-descent")
    assert "steps" in toy["properties"]["params"]["properties"]
    assert toy["properties"]["params"]["additionalProperties"] is False


def test_help_lists_the_commands(invprob_cli, toy_env):
    result = invprob_cli(["--help"], toy_env)
    assert result.returncode == 0
    for command in ("run", "validate", "plugins", "schema"):
        assert command in result.stdout


def test_plugins_lists_every_kind_commands_and_solver_defaults(invprob_registry, capsys):
    from invprob import hookimpl
    from invprob.app.cli import main

    class Plugin:
        @hookimpl
        def invprob_register_solvers(self, registry):
            registry.add("patient", lambda p, c: None, defaults={"losses": [{"type": "l1"}], "priors": []})

        @hookimpl
        def invprob_register_metrics(self, registry):
            registry.add("sharpness", lambda p, c: None)

        @hookimpl
        def invprob_register_commands(self, registry):
            registry.add("measure sharpness", lambda args: 0, help="measure")

    assert invprob_registry.register_plugin(Plugin(), distribution="listed-plugin", version="0.3")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "listed-plugin 0.3\n" in out
    assert "  solvers: patient (defaults: losses l1; priors [])\n" in out
    assert "  metrics: sharpness\n" in out
    assert "  commands: measure sharpness\n" in out
    assert "  losses: l1, mse\n" in out  # the core's default plugin, listed like any other
    assert invprob_registry.register_plugin(object(), distribution="silent-plugin")
    assert main(["plugins"]) == 0
    assert "silent-plugin\n  (no components or commands)\n" in capsys.readouterr().out


def test_plugins_says_what_a_distribution_without_components_is(installed_registry, swap_default_registry, capsys):
    """invprob-plugin-cuda works through a hook (faster kernels at start-up): its line is not blank."""
    import importlib.metadata

    from invprob.app.cli import main

    swap_default_registry(installed_registry)
    assert main(["plugins"]) == 0
    metadata = importlib.metadata.metadata("invprob-plugin-cuda")
    assert f"invprob-plugin-cuda {metadata['Version']}\n  {metadata['Summary']}\n" in capsys.readouterr().out


def test_a_plugin_command_group_given_alone_lists_its_commands(invprob_registry, capsys):
    from invprob import hookimpl
    from invprob.app.cli import main

    class Plugin:
        @hookimpl
        def invprob_register_commands(self, registry):
            registry.add("measure sharpness", lambda args: 0, help="how sharp an image is")
            registry.add("measure noise", lambda args: 0, help="how noisy an image is")

    assert invprob_registry.register_plugin(Plugin(), distribution="measuring-plugin")
    assert main(["measure"]) == 2  # as `invprob study` alone: the group's commands, not the whole help
    out = capsys.readouterr().out
    assert out.startswith("usage: invprob measure") and "how sharp an image is" in out and "how noisy" in out
    assert main(["measure", "noise"]) == 0


def test_schema_lists_installed_metrics(invprob_registry):
    from invprob import hookimpl
    from invprob.schema import recipe_json_schema

    class Plugin:
        @hookimpl
        def invprob_register_metrics(self, registry):
            registry.add("sharpness", lambda p, c: None)

    invprob_registry.register_plugin(Plugin(), distribution="metric-plugin")
    items = recipe_json_schema(invprob_registry)["properties"]["metrics"]["items"]["anyOf"]
    assert "sharpness" in items[0]["enum"]
    assert any(v["properties"]["type"] == {"const": "sharpness"} for v in items[1:])
