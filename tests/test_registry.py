"""Plugin discovery, failure isolation, strict mode, duplicates, environment switches, the
params base class, solver defaults, runtime setup and the unknown-name hints."""

from __future__ import annotations

import importlib.metadata
from types import SimpleNamespace

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from invprob import hookimpl
from invprob.app.cli import plugins_listing
from invprob.hookspecs import hookspec
from invprob.hints import singular, unknown_component_message
from invprob.params import Params
from invprob.registry import (
    PluginLoadError,
    Registry,
    RegistryError,
    UnknownComponentError,
    new_registry,
)

TEST_DISTRIBUTIONS = {"invprob-toy-plugin", "invprob-broken-plugin", "invprob-misspelled-plugin"}


def core_only(strict: bool = False) -> Registry:
    return new_registry(strict=strict, entry_points=False)


def plugin(**hooks) -> SimpleNamespace:
    """A plugin object whose hooks are the given functions: ``plugin(register_losses=f)``."""
    return SimpleNamespace(**{f"invprob_{name}": function for name, function in hooks.items()})


def adds(name: str, **kwargs):
    """A registration hook that adds one component ``name`` (of the hook's kind)."""
    return lambda registry: registry.add(name, lambda params, context: None, **kwargs)


def provided_by(registry: Registry, kind: str, distribution: str) -> list[str]:
    return [name for name in registry.names(kind) if registry.components[kind][name].distribution == distribution]


# -- discovery ------------------------------------------------------------------------------


def test_plugin_is_discovered_through_its_real_entry_point(toy_registry: Registry):
    component = toy_registry.get("solvers", "toy-descent")
    assert component.distribution == "invprob-toy-plugin"
    assert toy_registry.distributions["invprob-toy-plugin"].version == "1.2.3"
    assert provided_by(toy_registry, "generators", "invprob-toy-plugin") == ["toy-generator"]
    assert not [f for f in toy_registry.failures if f.distribution == "invprob-toy-plugin"]


def test_core_components_are_a_default_plugin_behind_the_same_entry_point_group():
    core_entry_points = [
        ep for ep in importlib.metadata.entry_points(group="invprob") if ep.dist is not None and ep.dist.name == "invprob-core"
    ]
    assert "invprob.default_plugins.losses" in {ep.value for ep in core_entry_points}
    registry = core_only(strict=True)
    assert registry.get("losses", "mse").distribution == "invprob-core"
    assert {"mse", "l1"} <= set(registry.names("losses"))
    assert set(registry.distributions) == {"invprob-core"}


def test_methods_are_not_in_the_core():
    registry = core_only(strict=True)
    assert "context" not in registry.names("losses")  # the Yeh plugin's
    assert "lpips" not in registry.names("losses")  # invprob-plugin-lpips's


# -- failure isolation and strict mode ---------------------------------------------------


def test_broken_plugin_is_reported_and_the_others_keep_working(toy_registry: Registry):
    failures = {f.distribution: f for f in toy_registry.failures}
    broken = failures["invprob-broken-plugin"]
    assert broken.version == "0.0.1"
    assert broken.entry_point == "broken"
    assert broken.error.startswith("ImportError: this plugin is broken on purpose")
    assert "toy-mask" in toy_registry.names("operators")
    assert "mse" in toy_registry.names("losses")


def test_strict_mode_raises_the_first_plugin_failure(toy_path):
    with pytest.raises(PluginLoadError, match="invprob-broken-plugin 0.0.1"):
        new_registry(strict=True)


def test_strict_mode_is_read_from_the_environment(toy_path, monkeypatch):
    monkeypatch.setenv("INVPROB_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError):
        new_registry()


def test_hook_that_raises_leaves_nothing_half_registered():
    def register_solvers(registry):
        registry.add("first", lambda p, c: None)
        raise RuntimeError("boom")

    registry = core_only()
    assert registry.register_plugin(plugin(register_solvers=register_solvers), distribution="half") is False
    assert "first" not in registry.names("solvers")
    assert registry.failures[-1].error == "RuntimeError: boom"


def test_a_failing_later_hook_discards_what_the_earlier_hooks_registered():
    def register_metrics(registry):
        raise RuntimeError("late failure")

    fails_last = plugin(
        register_generators=adds("early-generator"),
        register_commands=lambda registry: registry.add("early command", lambda args: 0, help="never kept"),
        register_metrics=register_metrics,
    )
    registry = core_only()
    assert registry.register_plugin(fails_last, distribution="fails-last") is False
    assert "early-generator" not in registry.names("generators")
    assert ("early", "command") not in registry.commands
    assert registry.failures[-1].distribution == "fails-last"


def test_a_fresh_registry_sees_only_what_is_registered_on_it():
    first = core_only()
    assert first.register_plugin(plugin(register_losses=adds("temporary")), distribution="temp")
    assert "temporary" in first.names("losses")
    assert "temporary" not in core_only().names("losses")


# -- the one unknown-hook check -----------------------------------------------------------


def test_misspelled_marked_hook_is_caught_with_a_suggestion(toy_registry: Registry):
    failure = next(f for f in toy_registry.failures if f.distribution == "invprob-misspelled-plugin")
    assert "unknown hook 'invprob_register_operator'" in failure.error
    assert "did you mean 'invprob_register_operators'" in failure.error


def test_misspelled_unmarked_hook_is_caught_with_a_suggestion_and_nothing_is_kept():
    unmarked = plugin(register_losses=adds("kept-only-if-valid"), register_solver=lambda registry: None)  # no 's'
    registry = core_only()
    assert registry.register_plugin(unmarked, distribution="unmarked") is False
    assert registry.failures[-1].error == (
        "PluginLoadError: unknown hook 'invprob_register_solver'; did you mean 'invprob_register_solvers'?"
    )
    assert "kept-only-if-valid" not in registry.names("losses")


def test_unmarked_hook_with_the_right_name_is_called():
    registry = core_only(strict=True)
    assert registry.register_plugin(plugin(register_operators=adds("unmarked-op")), distribution="unmarked")
    assert registry.get("operators", "unmarked-op").distribution == "unmarked"


def test_hook_with_an_argument_the_spec_does_not_have_is_a_failure():
    class WrongArgument:
        @hookimpl
        def invprob_register_losses(self, registry, extra):
            pass

    registry = core_only()
    assert registry.register_plugin(WrongArgument(), distribution="wrong-argument") is False
    assert "extra" in registry.failures[-1].error


# -- duplicates ------------------------------------------------------------------------------


def test_a_clashing_name_is_ambiguous_and_both_distributions_keep_the_rest(toy_path, clash_site, clash_distribution, monkeypatch):
    monkeypatch.syspath_prepend(str(clash_site))
    registry = new_registry(strict=False)
    assert {c.distribution for c in registry.ambiguous["solvers"]["toy-descent"]} == {"invprob-toy-plugin", clash_distribution}
    assert "toy-descent" not in registry.names("solvers")
    assert "toy-mask" in registry.names("operators") and "clash-only" in registry.names("operators")
    assert "l1" in registry.names("losses")  # the core keeps everything else
    assert not [f for f in registry.failures if f.distribution in {"invprob-toy-plugin", clash_distribution}]
    with pytest.raises(UnknownComponentError) as raised:
        registry.get("solvers", "toy-descent")
    message = str(raised.value)
    assert "'toy-descent' is ambiguous" in message and "INVPROB_DISABLE_PLUGINS" in message
    assert "'type: invprob-toy-plugin:toy-descent'" in message and f"'type: {clash_distribution}:toy-descent'" in message
    assert any("solver 'toy-descent' is registered by both" in w for w in registry.warnings)


def test_a_third_party_name_that_clashes_with_a_first_party_one_leaves_it_first_party(
    toy_path, clash_site, clash_distribution, monkeypatch
):
    """In both orders of loading (the clashing plugin sorts before and after invprob-plugin-imaging)."""
    monkeypatch.syspath_prepend(str(clash_site))
    registry = new_registry(strict=False)
    for kind, name, owner in [("losses", "mse", "invprob-core"), ("metrics", "psnr", "invprob-core"),
                              ("operators", "denoise", "invprob-plugin-imaging")]:  # fmt: skip
        assert registry.get(kind, name).distribution == owner, name
        assert registry.get(kind, f"{clash_distribution}:{name}").distribution == clash_distribution
        assert name in registry.names(kind) and name not in registry.ambiguous[kind]
        (warning,) = [w for w in registry.warnings if f"{singular(kind)} {name!r} of {clash_distribution}" in w]
        assert f"clashes with the first-party {owner}'s" in warning and f"'type: {clash_distribution}:{name}'" in warning
    assert new_registry(strict=True, only={clash_distribution, "invprob-plugin-imaging"}).get("operators", "denoise")
    without_owner = new_registry(strict=False, disable={"invprob-plugin-imaging"})  # never silently the third party's
    with pytest.raises(UnknownComponentError, match="it comes with invprob-plugin-imaging, which is installed but not loaded"):
        without_owner.get("operators", "denoise")
    assert without_owner.get("operators", f"{clash_distribution}:denoise").distribution == clash_distribution


def test_a_name_of_a_distribution_picks_one_component_of_an_ambiguous_name(toy_path, clash_site, clash_distribution, monkeypatch):
    monkeypatch.syspath_prepend(str(clash_site))
    registry = new_registry(strict=False)
    assert registry.get("solvers", "invprob-toy-plugin:toy-descent").distribution == "invprob-toy-plugin"
    assert registry.get("solvers", f"{clash_distribution}:toy-descent").distribution == clash_distribution
    assert registry.get("losses", "Invprob-Core:mse").distribution == "invprob-core"
    assert registry.get("operators", "invprob-toy-plugin:toy-mask").name == "toy-mask"
    with pytest.raises(UnknownComponentError, match="no distribution 'invprob-core' provides solver 'toy-descent'"):
        registry.get("solvers", "invprob-core:toy-descent")


def test_disabling_one_distribution_of_a_clash_gives_the_name_back(toy_path, clash_site, clash_distribution, monkeypatch):
    monkeypatch.syspath_prepend(str(clash_site))
    registry = new_registry(strict=False, disable={clash_distribution})
    assert registry.get("solvers", "toy-descent").distribution == "invprob-toy-plugin"
    assert registry.ambiguous["solvers"] == {}


def test_a_clash_is_raised_in_strict_mode(toy_path, clash_site, clash_distribution, monkeypatch):
    monkeypatch.syspath_prepend(str(clash_site))
    with pytest.raises(PluginLoadError, match="registered by both"):
        new_registry(strict=True, only={"invprob-toy-plugin", clash_distribution})


@pytest.mark.parametrize("kind", ["metrics", "losses"])
def test_duplicate_names_of_every_kind_are_ambiguous(kind):
    class Plugin:  # a marked hook under another name, as pluggy allows
        @hookimpl(specname=f"invprob_register_{kind}")
        def register(self, registry):
            registry.add("twice", lambda p, c: None)

    registry = core_only()
    assert registry.register_plugin(Plugin(), distribution="first-dist")
    assert registry.register_plugin(Plugin(), distribution="second-dist")
    singular = {"metrics": "metric", "losses": "loss"}[kind]
    assert f"{singular} 'twice' is registered by both first-dist and second-dist" in registry.warnings[-1]
    assert [c.distribution for c in registry.ambiguous[kind]["twice"]] == ["first-dist", "second-dist"]
    assert registry.get(kind, "second-dist:twice").distribution == "second-dist"


def test_a_plugin_registering_one_name_twice_is_an_error():
    def register_metrics(registry):
        registry.add("same", lambda p, c: None)
        registry.add("same", lambda p, c: None)

    registry = core_only()
    assert registry.register_plugin(plugin(register_metrics=register_metrics), distribution="twice") is False
    assert "metric 'same' is registered twice by twice" in registry.failures[-1].error


def test_a_command_two_distributions_register_is_left_out_and_reported():
    def commands():
        return plugin(register_commands=lambda registry: registry.add("train thing", lambda args: 0, help="train"))

    registry = core_only()
    assert registry.register_plugin(commands(), distribution="cmd-a")
    assert registry.register_plugin(commands(), distribution="cmd-b")
    assert registry.register_plugin(commands(), distribution="cmd-c")
    assert "command 'invprob train thing' is registered by both cmd-a and cmd-b" in registry.warnings[0]
    assert ("train", "thing") not in registry.commands


# -- environment switches --------------------------------------------------------------------


def test_load_only_some_distributions(toy_path, monkeypatch):
    monkeypatch.setenv("INVPROB_LOAD_PLUGINS", "invprob-toy-plugin")
    registry = new_registry(strict=False)
    assert registry.failures == []
    assert set(registry.distributions) == {"invprob-core", "invprob-toy-plugin"}


def test_only_accepts_any_spelling_of_a_distribution_name(toy_path):
    registry = new_registry(strict=True, only={"Invprob_Toy.Plugin"})
    assert set(registry.distributions) == {"invprob-core", "invprob-toy-plugin"}


def test_the_core_is_loaded_whatever_the_switches_say(toy_path, monkeypatch):
    monkeypatch.setenv("INVPROB_LOAD_PLUGINS", "invprob-toy-plugin")
    monkeypatch.setenv("INVPROB_DISABLE_PLUGINS", "invprob-core")
    registry = new_registry(strict=False)
    assert registry.get("losses", "mse").distribution == "invprob-core"


@pytest.mark.parametrize("variable", ["INVPROB_LOAD_PLUGINS", "INVPROB_DISABLE_PLUGINS"])
def test_a_misspelled_distribution_in_a_switch_is_reported(toy_path, monkeypatch, variable):
    monkeypatch.setenv(variable, "invprob-toy-plugn")
    registry = new_registry(strict=False)
    (warning,) = [w for w in registry.warnings if variable in w]
    assert "'invprob-toy-plugn', which is not an installed invprob plugin distribution" in warning
    assert "did you mean 'invprob-toy-plugin'?" in warning


def test_an_excluded_distribution_is_named_instead_of_install_advice(toy_path, monkeypatch):
    monkeypatch.setenv("INVPROB_DISABLE_PLUGINS", "invprob-toy-plugin,invprob-broken-plugin,invprob-misspelled-plugin")
    registry = new_registry(strict=False)
    message = unknown_component_message(registry, "generators", "dcgan-nothing")
    assert "installed but not loaded" in message and "invprob-toy-plugin" in message
    assert "install the plugin" not in message


def test_disable_some_distributions(toy_path, monkeypatch):
    monkeypatch.setenv("INVPROB_DISABLE_PLUGINS", "invprob_broken_plugin, invprob-misspelled-plugin")
    registry = new_registry(strict=False)
    assert not [f for f in registry.failures if f.distribution in TEST_DISTRIBUTIONS]
    assert "toy-descent" in registry.names("solvers")


# -- params: one strict base class -------------------------------------------------------


def test_a_component_without_a_params_model_takes_no_params():
    registry = core_only(strict=True)
    registry.register_plugin(plugin(register_losses=adds("plain")), distribution="plain")
    component = registry.get("losses", "plain")
    assert component.params_model is Params
    assert component.description == ""
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        component.validate_params({"scale": 2})


def test_params_models_must_derive_from_the_strict_base_class():
    class Loose(BaseModel):
        model_config = ConfigDict(extra="allow")

    registry = core_only()
    assert registry.register_plugin(plugin(register_losses=adds("loose", params_model=Loose)), distribution="loose") is False
    assert "params_model must subclass invprob.params.Params" in registry.failures[-1].error


# -- solver defaults -------------------------------------------------------------------------


def register_solver(defaults, kind: str = "solvers", strict: bool = False) -> Registry:
    registry = core_only(strict=strict)
    hooks = {f"register_{kind}": adds("with-defaults", defaults=defaults)}
    registry.register_plugin(plugin(**hooks), distribution="defaults-plugin")
    return registry


def test_solver_defaults_are_kept_on_the_component():
    defaults = {
        "losses": [{"type": "context", "params": {"window": 7}}],
        "priors": [{"type": "discriminator", "params": {"lam": 0.003}}, {"type": "box"}],
    }
    registry = register_solver(defaults)
    assert registry.failures == []
    assert registry.get("solvers", "with-defaults").defaults == defaults
    assert registry.get("losses", "mse").defaults == {}


@pytest.mark.parametrize(
    "defaults, message",
    [
        ({"solver": [{"type": "csgm"}]}, "defaults map 'losses'/'priors'"),
        ({"losses": {"type": "mse"}}, "defaults map 'losses'/'priors'"),
        ({"losses": [{"params": {}}]}, "defaults map 'losses'/'priors'"),
        ({"priors": [{"type": "box", "parms": {}}]}, "defaults map 'losses'/'priors'"),
        ({"losses": [{"type": "mse", "weight": "heavy"}]}, "defaults map 'losses'/'priors'"),
    ],
)
def test_malformed_solver_defaults_are_a_registry_error(defaults, message):
    registry = register_solver(defaults)
    (failure,) = registry.failures
    assert failure.error.startswith(f"RegistryError: solver 'with-defaults' of defaults-plugin: {message}")
    assert "with-defaults" not in registry.names("solvers")


def test_only_solvers_declare_defaults():
    registry = register_solver({"losses": [{"type": "mse"}]}, kind="operators")
    assert registry.failures[-1].error.endswith("only solvers declare defaults")


def test_malformed_defaults_raise_at_registration_in_strict_mode():
    with pytest.raises(PluginLoadError) as raised:
        register_solver({"solver": []}, strict=True)
    assert isinstance(raised.value.__cause__, RegistryError)


# -- runtime setup ---------------------------------------------------------------------------


class KernelPlugin:
    def __init__(self):
        self.devices = []

    @hookimpl
    def invprob_setup_runtime(self, device):
        self.devices.append(device)


class FailingKernelPlugin:
    @hookimpl
    def invprob_setup_runtime(self, device):
        raise RuntimeError(f"no kernels for {device}")


def test_setup_runtime_runs_every_plugin_in_isolation():
    registry = core_only()
    failing, working = FailingKernelPlugin(), KernelPlugin()
    registry.register_plugin(failing, distribution="bad-kernels", version="0.1", entry_point="kernels")
    registry.register_plugin(working, distribution="good-kernels")
    failures = registry.setup_runtime("cpu")
    assert working.devices == ["cpu"]
    assert [(f.distribution, f.version, f.entry_point, f.error) for f in failures] == [
        ("bad-kernels", "0.1", "kernels", "RuntimeError: no kernels for cpu")
    ]
    assert registry.failures == failures
    assert registry.setup_runtime("cuda") and working.devices == ["cpu", "cuda"]


def test_setup_runtime_failure_raises_in_strict_mode():
    registry = core_only(strict=True)
    registry.register_plugin(FailingKernelPlugin(), distribution="bad-kernels")
    with pytest.raises(PluginLoadError, match="bad-kernels.*no kernels for cpu"):
        registry.setup_runtime("cpu")


def test_setup_runtime_skips_plugins_that_failed_to_load():
    devices = []

    def register_operators(registry):
        raise RuntimeError("broken at load")

    broken = plugin(register_operators=register_operators, setup_runtime=lambda device: devices.append(device))
    registry = core_only()
    assert registry.register_plugin(broken, distribution="broken-kernels") is False
    assert registry.setup_runtime("cpu") == []
    assert devices == []


class _DeclaredHooks:
    """The hook a distribution of its own declares (as ``invprob-studies`` declares its engines')."""

    @staticmethod
    @hookspec
    def invprob_register_widgets(registry):
        """Add widgets."""


class _Widgets:
    def __init__(self, distribution: str):
        self.distribution, self.names = distribution, []


def test_a_declared_hook_is_implemented_by_plugins_and_called_on_each_in_isolation():
    registry = core_only()
    assert registry.call_each("invprob_register_widgets", _Widgets) == []  # declared by nobody, implemented by none
    assert not registry.register_plugin(plugin(register_widgets=lambda registry: None), distribution="too-early")
    assert "unknown hook 'invprob_register_widgets'" in registry.failures[-1].error  # not declared yet

    registry.add_hookspecs(_DeclaredHooks)

    def breaks(registry):
        registry.names.append("half")
        raise RuntimeError("widget plugin broke")

    assert registry.register_plugin(plugin(register_widgets=lambda registry: registry.names.append("a")), distribution="aa")
    assert registry.register_plugin(plugin(register_widgets=breaks), distribution="bb")
    assert registry.register_plugin(plugin(register_widgets=lambda registry: registry.names.append("c")), distribution="cc")
    called = registry.call_each("invprob_register_widgets", _Widgets)
    assert sorted((w.distribution, w.names) for w in called) == [("aa", ["a"]), ("cc", ["c"])]  # bb's left out
    assert registry.failures[-1].distribution == "bb" and registry.failures[-1].error == "RuntimeError: widget plugin broke"


# -- unknown names and the listing -----------------------------------------------------------


def test_unknown_component_suggests_close_names(toy_registry: Registry):
    with pytest.raises(UnknownComponentError, match="unknown solver 'toy-decent'; did you mean 'toy-descent'"):
        toy_registry.get("solvers", "toy-decent")


def test_unknown_component_without_a_close_name_lists_what_is_installed():
    registry = core_only()
    message = unknown_component_message(registry, "losses", "stylegan-perceptual")
    assert message.startswith("unknown loss 'stylegan-perceptual'; installed losses: l1, mse; ")
    assert "install the plugin distribution that provides it" in message


def test_unknown_component_names_the_plugins_that_failed_to_load(toy_registry: Registry):
    message = unknown_component_message(toy_registry, "generators", "biggan")
    assert "installed generators: " in message and "toy-generator" in message
    assert "failed to load and may provide it: invprob-broken-plugin, invprob-misspelled-plugin" in message


def test_json_listing_has_the_shape_other_tools_rely_on(toy_registry: Registry):
    listing = plugins_listing(toy_registry)
    toy = next(d for d in listing["distributions"] if d["name"] == "invprob-toy-plugin")
    assert set(toy) == {"name", "version", "components", "commands", "error"}
    assert set(toy["components"]) == {"generators", "operators", "priors", "losses", "solvers", "metrics"}
    assert toy["components"]["solvers"] == ["toy-descent"]
    assert toy["error"] is None
    broken = next(d for d in listing["distributions"] if d["name"] == "invprob-broken-plugin")
    assert broken["error"].startswith("ImportError")
    assert {f["distribution"] for f in listing["failures"]} >= {"invprob-broken-plugin", "invprob-misspelled-plugin"}


def test_listing_is_derived_from_the_components_including_metrics_and_commands():
    sharp_plugin = plugin(
        register_metrics=adds("sharpness"),
        register_commands=lambda registry: registry.add("measure sharpness", lambda args: 0, help="measure"),
    )
    registry = core_only(strict=True)
    registry.register_plugin(sharp_plugin, distribution="sharp", version="2.0")
    (sharp,) = [d for d in plugins_listing(registry)["distributions"] if d["name"] == "sharp"]
    assert sharp == {
        "name": "sharp",
        "version": "2.0",
        "components": {kind: (["sharpness"] if kind == "metrics" else []) for kind in sharp["components"]},
        "commands": ["measure sharpness"],
        "error": None,
    }


def test_a_name_that_is_not_a_string_is_simply_not_found():
    registry = core_only()
    assert registry.components["losses"].get(["mse"]) is None and ["mse"] not in registry.components["losses"]
