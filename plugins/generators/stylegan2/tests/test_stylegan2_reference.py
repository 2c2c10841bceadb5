"""Every tensor of ../shared/fixtures/stylegan2 (made with rosinality's code) is reproduced to 1e-4."""

import pytest
import torch

from invprob.context import BuildContext
from invprob_plugin_stylegan2.loading import infer_config, load_stylegan2, read_checkpoint

TOL = dict(rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def model(fixtures):
    return load_stylegan2(fixtures / "checkpoint.pt", output="raw")


def test_architecture_is_inferred_from_the_tensor_shapes(fixtures):
    config = infer_config(read_checkpoint(fixtures / "checkpoint.pt"))
    assert (config.size, config.style_dim, config.n_mlp, config.lr_mlp) == (32, 64, 3, 0.01)
    assert config.channels == {4: 64, 8: 64, 16: 32, 32: 32}
    assert (config.n_latent, config.num_layers) == (8, 7)


def test_mapping_network(model, reference):
    torch.testing.assert_close(model.g_ema.get_latent(reference["z"]), reference["w"], **TOL)


def test_image_from_z_uses_the_checkpoint_noise(model, reference):
    torch.testing.assert_close(model({"z": reference["z"]}), reference["img_z"], **TOL)


def test_truncation_towards_latent_avg(fixtures, reference):
    truncated = load_stylegan2(fixtures / "checkpoint.pt", output="raw", truncation=0.7)
    torch.testing.assert_close(truncated({"z": reference["z"]}), reference["img_trunc"], **TOL)


def test_wplus_image(model, reference):
    torch.testing.assert_close(model({"w+": reference["wplus"]}), reference["img_wplus"], **TOL)


def test_style_mixing_as_a_wplus_built_from_two_ws(model, reference):
    w1, w2 = model.g_ema.get_latent(reference["z"]), model.g_ema.get_latent(reference["z2"])
    wplus = torch.cat([w1[:, None].repeat(1, 3, 1), w2[:, None].repeat(1, 5, 1)], 1)  # inject_index 3
    torch.testing.assert_close(model({"w+": wplus}), reference["img_mix"], **TOL)


@pytest.mark.parametrize("k", range(4))
def test_state_at_every_block_boundary(model, reference, k):
    state = model.split(k + 2)[0]({"w+": reference["wplus"]})
    if k < 3:
        torch.testing.assert_close(state["feature"], reference[f"out_{k}"], **TOL)
        torch.testing.assert_close(state["skip"], reference[f"skip_{k}"], **TOL)
        torch.testing.assert_close(state["w+"], reference["wplus"][:, 2 * k + 1 :], rtol=0, atol=0)
        assert sorted(n for n in state if n.startswith("noise_")) == [f"noise_{i}" for i in range(2 * k + 1, 7)]
    else:
        assert list(state) == ["image"]
        torch.testing.assert_close(state["image"], reference["skip_3"], **TOL)
    _, boundaries = model.synthesize({"w+": reference["wplus"]})
    torch.testing.assert_close(boundaries[k][0], reference[f"out_{k}"], **TOL)
    torch.testing.assert_close(boundaries[k][1], reference[f"skip_{k}"], **TOL)


def test_restarting_from_every_reference_boundary_reproduces_the_image(model, reference):
    wplus = reference["wplus"]
    for k in range(3):
        state = {"feature": reference[f"out_{k}"], "skip": reference[f"skip_{k}"], "w+": wplus[:, 2 * k + 1 :]}
        state.update({f"noise_{i}": model.g_ema.noises[i].expand(4, -1, -1, -1) for i in range(2 * k + 1, 7)})
        torch.testing.assert_close(model.split(k + 2)[1](state), reference["img_wplus"], **TOL)


def test_split_is_exact_at_every_k(model, reference):
    for latents in ({"w+": reference["wplus"]}, {"z": reference["z"]}):
        image = model(latents)
        for k in range(model.num_stages + 1):
            first, second = model.split(k)
            torch.testing.assert_close(second(first(latents)), image, rtol=0, atol=0)


def test_discriminator_logits(model, reference):
    torch.testing.assert_close(model.discriminator(reference["img_z"]), reference["d_real"], **TOL)
    torch.testing.assert_close(model.discriminator(reference["d_in"]), reference["d_out"], **TOL)


def test_given_noise_replaces_the_buffers(model, reference):
    z = reference["z"]
    buffers = {f"noise_{i}": model.g_ema.noises[i].expand(4, -1, -1, -1) for i in range(7)}
    torch.testing.assert_close(model({"z": z, **buffers}), reference["img_z"], **TOL)
    other = dict(buffers, noise_5=torch.zeros(4, 1, 32, 32))
    assert (model({"z": z, **other}) - reference["img_z"]).abs().max() > 1e-2


def test_registered_generator_loads_the_fixture_from_a_recipe_path(stylegan2_registry, fixtures, reference):
    context = BuildContext(registry=stylegan2_registry, base_dir=fixtures)
    built = stylegan2_registry.build("generators", "stylegan2", {"checkpoint": "checkpoint.pt"}, context)
    assert built.image_shape == (3, 32, 32) and built.discriminator_output == "logit"
    torch.testing.assert_close(built({"w+": reference["wplus"]}), reference["img_wplus"].clamp(-1, 1), **TOL)


def test_upstream_formulation_matches_too(model, reference):
    from invprob_plugin_stylegan2.ops import reference_formulation

    with reference_formulation():
        torch.testing.assert_close(model({"w+": reference["wplus"]}), reference["img_wplus"], **TOL)
        torch.testing.assert_close(model({"z": reference["z"]}), reference["img_z"], **TOL)
        torch.testing.assert_close(model.discriminator(reference["d_in"]), reference["d_out"], **TOL)
