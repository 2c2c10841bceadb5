"""`invprob validate` refuses operator params that cannot fit the images, when the recipe tells
their size (the generator's): exit 2 naming the field, before any model is built."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "recipes" / "demo.yaml"  # the embedded 64x64 face DCGAN: images are 3 x 64 x 64


@pytest.fixture
def real_registry(monkeypatch, swap_default_registry):
    monkeypatch.delenv("INVPROB_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("INVPROB_DISABLE_PLUGINS", raising=False)
    swap_default_registry(None)  # the installed plugins, loaded without those variables


def _validate(capsys, *overrides: str) -> tuple[int, list[str]]:
    from invprob.app.cli import main

    code = main(["validate", str(DEMO), *overrides])
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning: ")]
    return code, err


@pytest.mark.parametrize(
    "overrides, field, expected",
    [
        (["operator.type=inpaint-box", "operator.params={top: 60, left: 0, height: 10, width: 10}"],
         "operator.params.height", "the missing box rows 60..69 do not fit in a 64 x 64 image (rows 0..63)"),
        (["operator.type=inpaint-box", "operator.params={top: 0, left: 64, height: 4, width: 4}"],
         "operator.params.left", "columns 64..67 do not fit in a 64 x 64 image"),
        (["operator.type=inpaint-center", "operator.params={size: [20, 65]}"],
         "operator.params.size", "a 20 x 65 centre box does not fit in a 64 x 64 image"),
        (["operator.type=downsample", "operator.params={factor: 3}", "solver={type: csgm}", "losses=[{type: mse}]", "priors=[]"],
         "operator.params.factor", "factor 3 does not divide the image size 64 x 64 (factors that do: 2, 4, 8"),
        (["operator.type=cs-circulant", "operator.params={m: 20000}", "solver={type: csgm}", "losses=[{type: mse}]", "priors=[]"],
         "operator.params.m", "m = 20000 measurements exceed the signal dimension n = C*H*W = 12288"),
        (["operator.type=compose",
          "operator.params={operators: [{type: downsample, params: {factor: 5}}, {type: identity}]}",
          "solver={type: csgm}", "losses=[{type: mse}]", "priors=[]"],
         "operator.params.operators[0].params.factor", "factor 5 does not divide the image size 64 x 64"),
    ],
)
def test_validate_exits_2_naming_the_field_that_does_not_fit(real_registry, capsys, overrides, field, expected):
    code, err = _validate(capsys, *overrides)
    assert code == 2, err
    assert len(err) == 2 and err[0].endswith("invalid recipe, 1 error:"), err
    assert err[1].strip().startswith(f"{field}: ") and expected in err[1], err
    assert "(generator 'dcgan64-faces' makes 3 x 64 x 64 images)" in err[1]


@pytest.mark.parametrize(
    "overrides",
    [
        ["operator.type=inpaint-box", "operator.params={top: 54, left: 0, height: 10, width: 64}"],
        ["operator.type=inpaint-center", "operator.params={size: 64}"],
        ["operator.type=downsample", "operator.params={factor: 8}", "solver={type: csgm}", "losses=[{type: mse}]", "priors=[]"],
        ["operator.type=cs-circulant", "operator.params={m: 12288}", "solver={type: csgm}", "losses=[{type: mse}]", "priors=[]"],
    ],
)
def test_params_that_just_fit_are_valid(real_registry, capsys, overrides):
    code, err = _validate(capsys, *overrides)
    assert code == 0, err


def test_the_known_shape_comes_from_the_generators_params(real_registry):
    import invprob
    from invprob.recipe import known_image_shape

    assert known_image_shape(invprob.load_recipe(DEMO)) == (3, 64, 64)
    random_dcgan = invprob.load_recipe(DEMO, ["generator={type: dcgan, params: {image_size: 32, nc: 1}}"])
    assert known_image_shape(random_dcgan) == (1, 32, 32)
    no_generator = invprob.load_recipe(REPO / "recipes" / "dip-inpaint.yaml")
    assert known_image_shape(no_generator) is None  # no generator: each image its size


def test_without_a_known_shape_the_build_still_refuses_naming_the_section(real_registry, tmp_path):
    """A generator-free recipe: the images' own size decides, checked when the operator is built."""
    import invprob
    from invprob.building import InputError

    recipe = invprob.load_recipe(
        DEMO,
        ["~generator", "priors=[]", "losses=[{type: mse}]", "solver={type: tv-inpaint}",
         "operator.type=inpaint-box", "operator.params={top: 60, left: 0, height: 10, width: 10}"],
    )
    with pytest.raises(InputError, match=r"^operator \(inpaint-box\): the missing box rows 60\.\.69"):
        invprob.run(recipe, out=tmp_path, show_progress=False)


@pytest.mark.parametrize(
    "name, params",
    [("dcgan64-faces", {"discriminator": False}), ("dcgan", {"image_size": 32, "nc": 1, "nz": 8, "ngf": 4,
                                                              "with_discriminator": False}),
     ("lcm-hourglass", {}), ("lcm-hourglass", {"model": "glo-faces64"}),
     ("lcm-hourglass", {"model": None, "size": 32, "latent_channels": 4, "width": 4}),
     ("mnist-gan-mlp", {}),
     ("stylegan2", {"size": 16, "style_dim": 8, "n_mlp": 2, "channels": {4: 8, 8: 8, 16: 4}, "discriminator": False})],
)
def test_a_declared_image_shape_is_the_built_generators(real_registry, name, params):
    """What validate checks against is what the run solves for."""
    from invprob.context import BuildContext
    from invprob.registry import default_registry

    registry = default_registry()
    component = registry.components["generators"][name]
    declared = component.validate_params(params).declared_image_shape()
    generator = registry.build("generators", name, params, BuildContext(registry=registry, device="cpu"))
    assert declared is not None and tuple(generator.image_shape) == declared


@pytest.mark.parametrize(
    "recipe, overrides, generator",
    [
        ("lcm-inpaint.yaml", ["operator.params.size=65"], "(generator 'lcm-hourglass' makes 3 x 64 x 64 images)"),
        ("lcm-inpaint.yaml", ["generator.params={model: null, size: 32}", "operator.params.size=40"],
         "(generator 'lcm-hourglass' makes 3 x 32 x 32 images)"),
    ],
)
def test_every_generator_that_knows_its_size_from_its_params_lets_validate_check_the_operator(
    real_registry, capsys, recipe, overrides, generator
):
    """Not only the DCGANs: the LCM hourglass (its committed 64x64 models, a random init's size),
    the MNIST GAN and a random StyleGAN2 declare their size too (their shapes are checked
    against the built models in test_a_declared_image_shape_is_the_built_generators)."""
    from invprob.app.cli import main

    code = main(["validate", str(REPO / "recipes" / recipe), *overrides])
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning: ")]
    assert code == 2 and err[1].strip().startswith("operator.params.size: ") and generator in err[1], err
