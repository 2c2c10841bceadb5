"""The priors compute the formulas they document, stably, with errors a user can act on."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from invprob.context import BuildContext
from invprob.prior import PenaltyContext
from invprob.registry import new_registry
from invprob.testing.toys import TinyGenerator, TinyMappedGenerator
from invprob_plugin_gan_priors.constraints import BoxConstraint
from invprob_plugin_gan_priors.penalties import DiscriminatorPrior, GaussianNormPrior
from invprob_plugin_gan_priors.plugin import GaussianNormParams


class _FixedScores(nn.Module):
    """A 'discriminator' that returns given scores, one per image, as a [B, 1] tensor."""

    def __init__(self, scores: torch.Tensor):
        super().__init__()
        self.scores = scores

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (self.scores + 0 * image.sum(dim=(1, 2, 3))).reshape(-1, 1)


def _context_with_scores(scores: torch.Tensor, output: str | None = "logit") -> PenaltyContext:
    generator = TinyGenerator()
    generator.discriminator = _FixedScores(scores)
    generator.discriminator_output = output
    image = torch.zeros(scores.shape[0], 3, 16, 16)
    return PenaltyContext(variables={"z": torch.zeros(scores.shape[0], 8)}, image=image, generator=generator)


def test_log_form_equals_lam_log_one_minus_sigmoid_of_the_logit():
    logits = torch.tensor([-3.0, -0.5, 0.0, 0.7, 4.0], dtype=torch.float64)
    prior = DiscriminatorPrior(lam=0.003, form="log")
    expected = 0.003 * torch.log(1 - torch.sigmoid(logits))
    torch.testing.assert_close(prior(_context_with_scores(logits)), expected)


def test_log_form_is_finite_with_finite_gradients_at_extreme_logits():
    logits = torch.tensor([-200.0, -40.0, 40.0, 200.0], requires_grad=True)
    value = DiscriminatorPrior(lam=1.0)(_context_with_scores(logits))
    naive = torch.log(1 - torch.sigmoid(logits.detach()))
    assert torch.isinf(naive[-1])  # the formula as written overflows here
    assert torch.isfinite(value).all()
    torch.testing.assert_close(value[-1], torch.tensor(-200.0))  # log(1 - sigmoid(l)) -> -l
    (gradient,) = torch.autograd.grad(value.sum(), logits)
    assert torch.isfinite(gradient).all()
    torch.testing.assert_close(gradient, -torch.sigmoid(logits.detach()))


def test_log_form_decreases_as_the_discriminator_believes_the_image_more():
    values = DiscriminatorPrior()(_context_with_scores(torch.tensor([-2.0, 0.0, 2.0])))
    assert values[0] > values[1] > values[2]


def test_lsgan_form_equals_lam_times_squared_distance_to_real():
    scores = torch.tensor([0.2, 0.43, 1.0, 1.5])
    value = DiscriminatorPrior(lam=0.01, form="lsgan")(_context_with_scores(scores, "least_squares"))
    torch.testing.assert_close(value, 0.01 * (scores - 1) ** 2)


@pytest.mark.parametrize(
    ("output", "expected"),
    [("logit", lambda s: -0.5 * torch.nn.functional.softplus(s)), ("least_squares", lambda s: 0.5 * (s - 1) ** 2),
     (None, lambda s: -0.5 * torch.nn.functional.softplus(s))],
    ids=["logit", "least-squares", "undeclared-is-log"],
)
def test_form_follows_the_generators_declared_discriminator_output(output, expected):
    scores = torch.tensor([0.2, 0.9, 1.7])
    torch.testing.assert_close(DiscriminatorPrior(lam=0.5)(_context_with_scores(scores, output)), expected(scores))


def test_a_form_contradicting_the_generator_fails_when_evaluated():
    with pytest.raises(ValueError, match="form is 'log'.*outputs 'least_squares', which needs form 'lsgan'"):
        DiscriminatorPrior(form="log")(_context_with_scores(torch.tensor([0.5]), "least_squares"))


def _build_prior(name: str, params: dict, generator) -> object:
    registry = new_registry(only={"invprob-plugin-gan-priors"})
    context = BuildContext(registry=registry, image_shape=generator.image_shape)
    context.generator = generator  # as the pipeline sets it
    return registry.build("priors", name, params, context)


def test_a_least_squares_generator_gets_the_lsgan_form_without_the_recipe_saying_so():
    generator = TinyMappedGenerator()  # declares discriminator_output = "least_squares"
    prior = _build_prior("discriminator", {"lam": 1.0}, generator)
    latents = generator.sample_latent(3, torch.Generator().manual_seed(0))
    image = generator(latents)
    value = prior(PenaltyContext(latents, image, generator))
    torch.testing.assert_close(value, (generator.discriminator(image)[:, 0] - 1) ** 2)


def test_a_recipe_form_contradicting_the_generator_is_an_error_at_build_time():
    with pytest.raises(ValueError, match="form is 'log', but TinyMappedGenerator declares.*'least_squares'"):
        _build_prior("discriminator", {"form": "log"}, TinyMappedGenerator())
    with pytest.raises(ValueError, match="form is 'lsgan', but TinyGenerator declares.*'logit'"):
        _build_prior("discriminator", {"form": "lsgan"}, TinyGenerator())
    assert _build_prior("discriminator", {"form": "lsgan"}, TinyMappedGenerator()).form == "lsgan"


def test_discriminator_is_taken_from_the_generator_at_call_time():
    prior = DiscriminatorPrior(lam=1.0, form="lsgan")
    context = _context_with_scores(torch.tensor([0.0]), "least_squares")
    first = prior(context)
    context.generator.discriminator = _FixedScores(torch.tensor([1.0]))
    assert first.item() == pytest.approx(1.0) and prior(context).item() == pytest.approx(0.0)


def test_real_discriminator_of_the_generator_is_used():
    generator = TinyGenerator()
    z = torch.randn(3, 8)
    image = generator(z)
    value = DiscriminatorPrior(lam=0.5)(PenaltyContext({"z": z}, image, generator))
    expected = 0.5 * torch.log(1 - torch.sigmoid(generator.discriminator(image)[:, 0]))
    torch.testing.assert_close(value, expected)


def test_generator_without_discriminator_gives_an_actionable_error():
    generator = TinyGenerator()
    generator.discriminator = None
    context = PenaltyContext({"z": torch.zeros(1, 8)}, torch.zeros(1, 3, 16, 16), generator)
    with pytest.raises(ValueError, match="TinyGenerator has none"):
        DiscriminatorPrior()(context)


def test_gaussian_norm_is_weighted_squared_norm_per_image():
    z = torch.tensor([[1.0, 2.0], [0.0, -3.0]])
    value = GaussianNormPrior(weight=0.5)(PenaltyContext({"z": z}, torch.zeros(2, 1, 4, 4), None))
    torch.testing.assert_close(value, torch.tensor([2.5, 4.5]))


def test_gaussian_norm_default_weight_is_bora_lambda_over_the_image_entries():
    # 0.001 / (C*H*W): Bora et al.'s lambda at their code's balance for a fully observed image
    # (their A = sqrt(n) I makes their mean loss n times our mse); the old default 0.1 was 3e5x that at 32 px
    z = torch.tensor([[1.0, 2.0], [0.0, -3.0]])
    value = GaussianNormPrior()(PenaltyContext({"z": z}, torch.zeros(2, 3, 32, 32), None))
    torch.testing.assert_close(value, torch.tensor([5.0, 9.0]) * 0.001 / 3072)
    registry_default = GaussianNormParams().weight
    assert registry_default is None


def test_gaussian_norm_on_an_unknown_variable_names_the_ones_optimised():
    with pytest.raises(ValueError, match="it optimises: z"):
        GaussianNormPrior(variable="w")(PenaltyContext({"z": torch.zeros(1, 2)}, torch.zeros(1, 1, 4, 4), None))


def test_box_clamps_in_place_to_its_bounds():
    z = torch.tensor([[-3.0, -0.5, 0.2, 7.0]])
    variables = {"z": z}
    BoxConstraint(-1, 0.5).project_(variables)
    assert variables["z"] is z
    torch.testing.assert_close(z, torch.tensor([[-1.0, -0.5, 0.2, 0.5]]))


def test_box_clamps_its_variable_by_name_and_leaves_the_other_latents_alone():
    w, noise = torch.tensor([[-3.0, 0.2, 7.0]]), torch.tensor([[5.0, -5.0]])
    variables = {"w": w, "noise": noise}
    BoxConstraint(-1, 1, variable="w").project_(variables)
    assert variables["w"] is w and variables["noise"] is noise
    torch.testing.assert_close(w, torch.tensor([[-1.0, 0.2, 1.0]]))
    torch.testing.assert_close(noise, torch.tensor([[5.0, -5.0]]))


def test_penalties_read_their_variable_among_several_latents():
    variables = {"w": torch.tensor([[1.0, 2.0]]), "noise": torch.full((1, 4), 9.0)}
    value = GaussianNormPrior(weight=1.0, variable="w")(PenaltyContext(variables, torch.zeros(1, 1, 4, 4), None))
    torch.testing.assert_close(value, torch.tensor([5.0]))


@pytest.mark.parametrize("name", ["box", "gaussian-norm"])
def test_a_prior_on_a_latent_the_generator_does_not_have_is_an_error_at_build_time(name):
    with pytest.raises(ValueError, match=r"on variable 'z', but TinyMappedGenerator has the latents \['noise', 'w'\]"):
        _build_prior(name, {}, TinyMappedGenerator())
    assert _build_prior(name, {"variable": "w"}, TinyMappedGenerator()).variable == "w"


def test_box_params_reject_an_empty_box():
    from pydantic import ValidationError

    from invprob_plugin_gan_priors.plugin import BoxParams

    with pytest.raises(ValidationError, match="lo < hi"):
        BoxParams(lo=1, hi=1)


def test_priors_are_registered_under_their_names():
    registry = new_registry(only={"invprob-plugin-gan-priors"})
    context = BuildContext(registry=registry, image_shape=(3, 16, 16))
    assert isinstance(registry.build("priors", "discriminator", {"form": "lsgan"}, context), DiscriminatorPrior)
    assert isinstance(registry.build("priors", "gaussian-norm", {}, context), GaussianNormPrior)
    assert isinstance(registry.build("priors", "box", {}, context), BoxConstraint)
