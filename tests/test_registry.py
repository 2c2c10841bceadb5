"""Plugin discovery, failure isolation, strict mode, duplicates and environment switches."""

from __future__ import annotations

import pytest

from invprob.registry import DuplicateComponentError, PluginLoadError, Registry, UnknownComponentError, new_registry

TEST_DISTRIBUTIONS = {"invprob-toy-plugin", "invprob-broken-plugin", "invprob-misspelled-plugin"}


def test_plugin_is_discovered_through_its_real_entry_point(toy_registry: Registry):
    component = toy_registry.get("solvers", "toy-descent")
    assert component.distribution == "invprob-toy-plugin"
    info = toy_registry.distributions["invprob-toy-plugin"]
    assert info.version == "1.2.3"
    assert info.components["generators"] == ["toy-generator"]
    assert info.error is None


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


def test_misspelled_hook_is_caught_with_a_suggestion(toy_registry: Registry):
    failure = next(f for f in toy_registry.failures if f.distribution == "invprob-misspelled-plugin")
    assert "unknown hook 'invprob_register_operator'" in failure.error
    assert "did you mean 'invprob_register_operators'" in failure.error


def test_duplicate_component_name_is_an_error_naming_both_distributions(toy_path, clash_site, monkeypatch):
    monkeypatch.syspath_prepend(str(clash_site))
    registry = new_registry(strict=False)
    failure = next(f for f in registry.failures if f.distribution == "zz-clashing-plugin")
    assert "solver 'toy-descent' is registered by both invprob-toy-plugin and zz-clashing-plugin" in failure.error
    assert registry.get("solvers", "toy-descent").distribution == "invprob-toy-plugin"
    with pytest.raises(PluginLoadError) as raised:
        new_registry(strict=True, only={"invprob-toy-plugin", "zz-clashing-plugin"})
    assert isinstance(raised.value.__cause__, DuplicateComponentError)


def test_load_only_some_distributions(toy_path, monkeypatch):
    monkeypatch.setenv("INVPROB_LOAD_PLUGINS", "invprob-toy-plugin")
    registry = new_registry(strict=False)
    assert registry.failures == []
    assert set(registry.distributions) == {"invprob", "invprob-toy-plugin"}


def test_disable_some_distributions(toy_path, monkeypatch):
    monkeypatch.setenv("INVPROB_DISABLE_PLUGINS", "invprob_broken_plugin, invprob-misspelled-plugin")
    registry = new_registry(strict=False)
    assert not [f for f in registry.failures if f.distribution in TEST_DISTRIBUTIONS]
    assert "toy-descent" in registry.names("solvers")


def test_hook_that_raises_leaves_nothing_half_registered():
    class HalfBroken:
        @staticmethod
        def invprob_register_solvers(registry):
            registry.add("first", lambda p, c: None)
            raise RuntimeError("boom")

    registry = new_registry(strict=False, entry_points=False)
    assert registry.register_plugin(HalfBroken(), distribution="half") is False
    assert "first" not in registry.names("solvers")
    assert registry.failures[-1].error == "RuntimeError: boom"


def test_unregistering_a_plugin_removes_its_components():
    class Plugin:
        @staticmethod
        def invprob_register_losses(registry):
            registry.add("temporary", lambda p, c: None)

    registry = new_registry(strict=False, entry_points=False)
    plugin = Plugin()
    registry.register_plugin(plugin, distribution="temp")
    assert "temporary" in registry.names("losses")
    registry.unregister_plugin(plugin)
    assert "temporary" not in registry.names("losses")
    assert "temp" not in registry.distributions


def test_unknown_component_suggests_close_names(toy_registry: Registry):
    with pytest.raises(UnknownComponentError, match="unknown solver 'toy-decent'; did you mean 'toy-descent'"):
        toy_registry.get("solvers", "toy-decent")


def test_unknown_first_party_component_says_which_distribution_to_install():
    registry = new_registry(strict=False, entry_points=False)
    message = registry.unknown_component_message("generators", "stylegan2")
    assert message == "unknown generator 'stylegan2'; it is provided by invprob-plugin-stylegan2: pip install invprob-plugin-stylegan2"


def test_json_listing_has_the_shape_other_tools_rely_on(toy_registry: Registry):
    listing = toy_registry.as_json()
    toy = next(d for d in listing["distributions"] if d["name"] == "invprob-toy-plugin")
    assert set(toy) >= {"name", "version", "components", "error"}
    assert set(toy["components"]) == {"generators", "operators", "priors", "losses", "solvers", "metrics"}
    assert toy["components"]["solvers"] == ["toy-descent"]
    broken = next(d for d in listing["distributions"] if d["name"] == "invprob-broken-plugin")
    assert broken["error"].startswith("ImportError")
