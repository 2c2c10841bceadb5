"""Penalties on the latent: the discriminator prior (Yeh et al. eq. 5) and the Gaussian norm."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F

from invprob.prior import Penalty, PenaltyContext

if TYPE_CHECKING:
    from invprob.generator import Generator


Form = Literal["log", "lsgan"]

FORM_OF_OUTPUT: dict[str, Form] = {"logit": "log", "least_squares": "lsgan"}
"""The prior's form for each ``Generator.discriminator_output``."""


def resolve_form(form: Form | None, generator: Generator) -> Form:
    """The form to use with ``generator``: the one its ``discriminator_output`` declares.

    An explicit ``form`` must agree with that declaration (a contradiction is a ``ValueError``
    naming both: the prior would read the scores wrongly and give a wrong result silently). With
    neither a declaration nor a ``form``, ``"log"`` (the standard GAN's logit).
    """
    if form is not None and form not in FORM_OF_OUTPUT.values():
        raise ValueError(f"unknown discriminator-prior form {form!r}; expected 'log' or 'lsgan'")
    declared = generator.discriminator_output
    if declared is None:
        return form or "log"
    if declared not in FORM_OF_OUTPUT:
        raise ValueError(
            f"{type(generator).__name__} declares discriminator_output = {declared!r}; "
            f"the discriminator prior knows {sorted(FORM_OF_OUTPUT)}"
        )
    expected = FORM_OF_OUTPUT[declared]
    if form is not None and form != expected:
        raise ValueError(
            f"the discriminator prior's form is {form!r}, but {type(generator).__name__} declares that its "
            f"discriminator outputs {declared!r}, which needs form {expected!r}; remove 'form' from the "
            "prior's params (it follows the generator) or use a generator whose discriminator matches"
        )
    return expected


class DiscriminatorPrior(Penalty):
    """``lam * log(1 - D(G(z)))`` (Yeh et al., CVPR 2017, eq. 5), per image.

    Minimising it moves ``z`` towards images the discriminator takes for real. With ``form="log"``
    the discriminator is read as returning a logit ``l`` with ``D = sigmoid(l)``, and

        log(1 - sigmoid(l)) = -softplus(l)

    is evaluated in that form, finite and with finite gradients for any logit (the naive
    ``log(1 - sigmoid(l))`` is ``-inf`` once ``sigmoid(l)`` rounds to 1, near ``l = 17`` in
    float32). With ``form="lsgan"`` the discriminator returns a least-squares score trained
    towards 1 for real images (an LSGAN, like the shared 32x32 CelebA DCGAN), and the prior is
    ``lam * (D(G(z)) - 1)^2``.

    ``form=None`` (the default) follows the generator's ``discriminator_output`` (``"logit"``
    -> ``"log"``, ``"least_squares"`` -> ``"lsgan"``); a generator that declares nothing gets
    ``"log"``. An explicit ``form`` that contradicts the declaration is a ``ValueError``
    (:func:`resolve_form`). The discriminator is the generator's own
    (``context.generator.discriminator``), looked up at call time so that the prior follows the
    generator it is used with.
    """

    def __init__(self, lam: float = 0.003, form: Form | None = None):
        super().__init__()
        if form is not None and form not in FORM_OF_OUTPUT.values():
            raise ValueError(f"unknown discriminator-prior form {form!r}; expected 'log' or 'lsgan'")
        self.lam = float(lam)
        self.form = form

    def forward(self, context: PenaltyContext) -> torch.Tensor:
        discriminator = context.generator.discriminator if context.generator is not None else None
        if discriminator is None:
            name = type(context.generator).__name__ if context.generator is not None else "no generator"
            raise ValueError(
                f"the discriminator prior needs a generator with a discriminator, but {name} has none; "
                "load a checkpoint that includes one or remove the 'discriminator' prior"
            )
        form = resolve_form(self.form, context.generator)
        score = discriminator(context.image).reshape(context.image.shape[0], -1)
        if score.shape[1] != 1:
            raise ValueError(
                f"the discriminator returns {score.shape[1]} values per image; the prior needs one score per image"
            )
        score = score[:, 0]
        if form == "log":
            return -self.lam * F.softplus(score)
        return self.lam * (score - 1) ** 2


BORA_LAMBDA = 0.001
"""Bora et al.'s z-prior weight (``--zprior_weight 0.001`` in their code's Gaussian-measurement
scripts), on their loss ``mean_j (y - A x)_j^2`` with their unnormalised ``A``."""


class GaussianNormPrior(Penalty):
    """``weight * ||v||^2`` per image for the latent ``v = variables[variable]`` (CSGM's z-prior).

    For ``z ~ N(0, I)`` this is ``-weight * 2 * log p(z)`` up to a constant: it keeps the
    latent where the generator was trained.

    ``weight`` is relative to the core's *mean*-normalised losses (``mse``: the mean over the
    measurement's entries). ``None`` (the default) is ``0.001 / n`` with ``n = C*H*W`` the
    image's entries (taken from the image at call time): Bora et al.'s ``lambda = 0.001`` in
    their own code's balance for a fully observed image (their ``A = sqrt(n) I``, whose loss is
    ``n`` times our ``mse``). For their other operators the code-equivalent weight is
    ``lambda * m / n^2`` (inpainting, ``m`` pixels observed, rows scaled by ``sqrt(n)``) and
    ``lambda / m`` (Gaussian ``A`` with ``N(0, 1)`` entries against our ``N(0, 1/m)``);
    docs/solvers.md, "Loss normalisation", derives them.
    """

    def __init__(self, weight: float | None = None, variable: str = "z"):
        super().__init__()
        self.weight = None if weight is None else float(weight)
        self.variable = variable

    def weight_for(self, image: torch.Tensor) -> float:
        """The weight used for images like ``image [B, C, H, W]``: ``weight``, or ``0.001 / (C*H*W)``."""
        return self.weight if self.weight is not None else BORA_LAMBDA / image[0].numel()

    def forward(self, context: PenaltyContext) -> torch.Tensor:
        value = context.variable(self.variable, "gaussian-norm")
        return self.weight_for(context.image) * value.reshape(value.shape[0], -1).pow(2).sum(dim=1)
