"""The generator interface: named latents, spaces with their own sampler, dict states at every split."""

from __future__ import annotations

import ast
from copy import deepcopy
from pathlib import Path

import pytest
import torch
from torch import nn

from invprob import seeding
from invprob.generator import (
    FEATURES, IMAGE, Generator, HasGaussianFit, HasLCMInfo, HasStateLatents, LatentSpace, TensorStage,
)
from invprob.testing.generators import (
    check_discriminator,
    check_latents_match_across_devices,
    check_output_shape_and_range,
    check_sampling_is_seeded,
    check_split_invariant,
)
from invprob.testing.toys import TinyGenerator, TinyMappedGenerator

REPO = Path(__file__).resolve().parents[1]


def test_sample_latent_is_a_dict_drawn_on_the_cpu_rng_in_declaration_order():
    generator = TinyMappedGenerator()
    latents = generator.sample_latent(3, seeding.make_rng(4))
    assert list(latents) == ["w", "noise"]
    rng = seeding.make_rng(4)
    w = generator.mapping(torch.randn(3, 8, generator=rng))
    noise = torch.randn(3, 1, 16, 16, generator=rng)
    torch.testing.assert_close(latents["w"], w, rtol=0, atol=0)
    torch.testing.assert_close(latents["noise"], noise, rtol=0, atol=0)


def test_uniform_and_normal_spaces_draw_with_invprob_seeding():
    uniform = LatentSpace("z", (5,), "uniform").sample(2, seeding.make_rng(1))
    normal = LatentSpace("z", (5,), "normal").sample(2, seeding.make_rng(1))
    torch.testing.assert_close(uniform, seeding.rand((2, 5), seeding.make_rng(1)) * 2 - 1, rtol=0, atol=0)
    torch.testing.assert_close(normal, seeding.randn((2, 5), seeding.make_rng(1)), rtol=0, atol=0)


def test_a_custom_sampler_gives_a_latent_that_is_neither_normal_nor_uniform():
    generator = TinyMappedGenerator()
    w = generator.sample_latent(4096, seeding.make_rng(0))["w"]
    assert generator.latent_spaces["w"].distribution == "custom"
    assert not w.requires_grad, "sampling must not build a graph through the mapping network"
    assert w.mean(dim=0).abs().max() > 0.05 or (w.std(dim=0) - 1).abs().max() > 0.1
    check_sampling_is_seeded(generator)


def test_a_sampler_goes_with_the_custom_distribution_only():
    with pytest.raises(ValueError, match="a sampler goes with distribution 'custom'"):
        LatentSpace("w", (4,), "normal", sampler=lambda batch, rng: torch.zeros(batch, 4))
    with pytest.raises(ValueError, match="LatentSpace.custom"):
        LatentSpace("w", (4,), "custom")
    with pytest.raises(ValueError, match="unknown distribution 'gaussian'"):
        LatentSpace("z", (4,), "gaussian")  # type: ignore[arg-type]


def test_a_sampler_of_the_wrong_shape_is_named():
    space = LatentSpace.custom("w", (4,), lambda batch, rng: torch.zeros(batch, 5))
    with pytest.raises(ValueError, match=r"sampler of latent space 'w' returned \(2, 5\), expected \(2, 4\)"):
        space.sample(2)


def test_the_custom_sampler_follows_a_deep_copy_of_its_generator():
    generator = TinyMappedGenerator()
    copy = deepcopy(generator)
    with torch.no_grad():
        copy.mapping[0].weight.mul_(2)
    copied, original = copy.sample_latent(2, seeding.make_rng(0)), generator.sample_latent(2, seeding.make_rng(0))
    assert not torch.equal(copied["w"], original["w"])


def test_latents_follow_the_generator_to_another_dtype():
    generator = TinyMappedGenerator().to(torch.float64)
    latents = generator.sample_latent(2, seeding.make_rng(0))
    assert {value.dtype for value in latents.values()} == {torch.float64}
    check_latents_match_across_devices(TinyGenerator(), device="cpu")


@pytest.mark.parametrize("make", [TinyGenerator, TinyMappedGenerator], ids=["tiny", "mapped"])
def test_toy_generators_meet_every_generator_check(make):
    generator = make()
    check_split_invariant(generator)
    check_sampling_is_seeded(generator)
    check_output_shape_and_range(generator)
    check_discriminator(generator)


def test_split_states_are_named_and_carry_what_later_stages_need():
    generator = TinyMappedGenerator()
    latents = generator.sample_latent(2, seeding.make_rng(0))
    assert generator.split(0)[0](latents) is latents
    assert set(generator.split(1)[0](latents)) == {FEATURES, "noise"}
    assert set(generator.split(2)[0](latents)) == {FEATURES, "noise"}
    assert set(generator.split(3)[0](latents)) == {IMAGE}
    with pytest.raises(ValueError, match=r"split index 4 is outside \[0, 3\]"):
        generator.split(4)


def test_forward_takes_a_dict_or_a_bare_primary_latent_and_names_wrong_keys():
    generator = TinyGenerator()
    z = generator.sample_latent(2, seeding.make_rng(0))["z"]
    torch.testing.assert_close(generator(z), generator({"z": z}), rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"takes the latents \['z'\], got \['w'\]"):
        generator({"w": z})
    with pytest.raises(TypeError, match="takes latents as a dict"):
        generator([z])
    with pytest.raises(TypeError, match="take a dict"):
        generator.split(1)[0](z)


def test_a_generator_without_stages_must_implement_split():
    class Bare(Generator):
        def __init__(self):
            super().__init__()
            self.latent_spaces = {"z": LatentSpace("z", (2,))}

    with pytest.raises(NotImplementedError, match="lists no stages"):
        Bare().split(0)


def test_stages_may_be_views_built_on_demand_so_the_module_tree_stays_the_checkpoints():
    class Checkpoint(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(3, 12)
            self.head = nn.Tanh()

    class Viewed(Generator):
        def __init__(self):
            super().__init__()
            self.net = Checkpoint()
            self.image_shape = (3, 2, 2)
            self.latent_spaces = {"z": LatentSpace("z", (3,))}

        @property
        def stages(self):
            reshape = nn.Unflatten(1, (3, 2, 2))
            return [
                TensorStage(nn.Sequential(self.net.body, reshape), "z", FEATURES),
                TensorStage(self.net.head, FEATURES, IMAGE),
            ]

    generator = Viewed()
    assert list(generator.state_dict()) == ["net.body.weight", "net.body.bias"]
    assert generator.num_stages == 2
    check_split_invariant(generator)


@pytest.mark.parametrize("model", [TinyGenerator, TinyMappedGenerator])
def test_a_segment_takes_the_state_at_one_split_point_to_the_state_at_a_later_one(model):
    generator = model().eval()
    latents = generator.sample_latent(2, seeding.make_rng(0))
    for start in range(generator.num_stages + 1):
        for stop in range(start, generator.num_stages + 1):
            state = generator.split(start)[0](latents)
            expected = generator.split(stop)[0](latents)
            got = generator.segment(start, stop)(state)
            assert got.keys() == expected.keys()
            for name in expected:
                torch.testing.assert_close(got[name], expected[name])
    with pytest.raises(ValueError, match="outside"):
        generator.segment(2, 1)


CAPABILITIES = (HasStateLatents, HasGaussianFit, HasLCMInfo)


def _capability_members() -> set[str]:
    """The members of the capability protocols: ``state_latents``, ``gaussian_fit``, ``lcm_info``."""
    return {
        name for protocol in CAPABILITIES for name in (*vars(protocol), *protocol.__annotations__) if not name.startswith("_")
    }


def _capability_probes(source: str, members: set[str]) -> list[int]:
    """Lines of ``getattr(x, "<member>", ...)`` / ``hasattr(x, "<member>")`` in ``source``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr")
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value in members
    ]


def _probes_in_sources(members: set[str]) -> list[str]:
    """``path:line`` of every probe of ``members`` in the core's and the plugins' sources."""
    sources = [*(REPO / "plugins").rglob("*.py"), *(REPO / "core" / "invprob").rglob("*.py")]
    return [
        f"{path.relative_to(REPO)}:{line}"
        for path in sources
        if not {"tests", "build"} & set(path.relative_to(REPO).parts)  # build/: wheel builds' copies
        for line in _capability_probes(path.read_text(encoding="utf-8"), members)
    ]


def test_capabilities_are_checked_with_isinstance_not_probed_with_getattr():
    """A capability is a protocol of invprob.generator, checked with ``isinstance``; probing for
    its member by name would bypass the declaration that the conformance suite checks."""
    members = _capability_members()
    assert members == {"state_latents", "gaussian_fit", "lcm_info"}
    assert _capability_probes('getattr(generator, "lcm_info", None)\nhasattr(g, "gaussian_fit")', members) == [1, 2]
    probes = _probes_in_sources(members)
    assert not probes, f"generator capabilities probed by name (use isinstance with invprob.generator's protocol): {probes}"


def test_declared_contract_members_are_read_not_probed():
    """``Prior.variable`` (what a prior is set on) and ``Generator.display_name`` (how messages
    name a generator) are declared on the kernel's contracts: a solver or the core reads them;
    a ``getattr``/``hasattr`` by name (the torch-module adapter's old ``module_name``) would let a
    plugin's undeclared attribute steer another plugin."""
    from invprob.prior import Prior

    members = {"variable", "display_name", "module_name"}
    assert Prior.variable is None and "display_name" in vars(Generator)
    probes = _probes_in_sources(members)
    assert not probes, f"declared members probed by name: {probes}"
