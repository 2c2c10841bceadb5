"""Entry point of invprob-plugin-imaging: parameter models and factories of every operator.

Light by design (no torch at import): each factory imports its operator module when a recipe
builds it. Noise convention: ``noise_sigma`` / ``sigma`` are standard deviations on the
0-255 scale, added as ``sigma / 127.5`` in [-1, 1] units (the ILO paper's convention).
Random masks and sensing matrices are drawn at build time from the run's ``"operator"``
stream, ``context.rng("operator")`` (a CPU generator), so a recipe seed fixes them on every
device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from invprob.hookspecs import hookimpl
from invprob.params import ComponentSpec, NestedKind, OddWindow, Params, RecipePath
from invprob.registry import ComponentRegistry

EXAMPLE_MASK = Path(__file__).resolve().parent / "data" / "example-mask-rgba.png"


# -- parameter models --------------------------------------------------------------------


class NoiseParams(Params):
    """Operators with optional additive Gaussian noise."""

    noise_sigma: float = Field(
        0.0, ge=0, description="Gaussian noise std on the 0-255 scale (added as noise_sigma / 127.5); 0 = noiseless"
    )


class ImageNoiseParams(NoiseParams):
    """Operators whose measurement is an image: optional Poisson shot noise, then Gaussian noise."""

    poisson_peak: float | None = Field(
        None,
        gt=0,
        description="Poisson shot noise: expected photon count at white (lower = noisier; the intensity (y+1)/2 "
        "is counted); null = none. Applied before the Gaussian noise_sigma",
    )


def _check_fraction(value: float | None, what: str) -> float | None:
    if value is not None and not 0 < value <= 1:
        raise ValueError(f"{what} must be in (0, 1], got {value}")
    return value


class IdentityParams(Params):
    """Identity A(x) = x, noiseless (use denoise for the noisy version)."""


class DenoiseParams(Params):
    """Denoising: y = x + sigma/127.5 * n, sigma on the 0-255 scale, optionally clipped to [-1, 1]."""

    sigma: float = Field(ge=0, description="noise std on the 0-255 scale (ILO uses 5..256; 25 is typical)")
    clip: bool = Field(False, description="clip the noisy image to [-1, 1] ([0, 255]) as ILO does")


class InpaintCenterParams(ImageNoiseParams):
    """Inpainting with a missing box at the image centre (size in pixels or fraction of each side)."""

    provides_mask = True  # observed_mask(): the observed pixels

    size: int | tuple[int, int] | None = Field(None, description="box side, or (height, width), in pixels")
    fraction: float | None = Field(None, description="box side as a fraction of each image side, in (0, 1]; default 0.5")

    @field_validator("fraction")
    @classmethod
    def _fraction_in_range(cls, value: float | None) -> float | None:
        return _check_fraction(value, "the centre box fraction")

    @field_validator("size")
    @classmethod
    def _size_positive(cls, value: int | tuple[int, int] | None) -> int | tuple[int, int] | None:
        sides = (value,) if isinstance(value, int) else value or ()
        if any(side < 1 for side in sides):
            raise ValueError(f"the centre box must be at least 1 x 1 pixels, got {value}")
        return value  # whether it fits the image is checked when the operator is built, for the image's shape

    @model_validator(mode="after")
    def _one_of_size_or_fraction(self) -> InpaintCenterParams:
        if self.size is not None and self.fraction is not None:
            raise ValueError("give either size or fraction for the centre box, not both")
        return self

    def image_shape_problems(self, image_shape: tuple[int, int, int]) -> list[tuple[str, str]]:
        if self.size is None:
            return []
        _, height, width = image_shape
        box = (self.size, self.size) if isinstance(self.size, int) else tuple(self.size)
        if box[0] > height or box[1] > width:
            return [("size", f"a {box[0]} x {box[1]} centre box does not fit in a {height} x {width} image; "
                             "shrink it or give a fraction")]
        return []


class InpaintBoxParams(ImageNoiseParams):
    """Inpainting with an arbitrary missing box (pixel coordinates, top-left origin)."""

    provides_mask = True  # observed_mask(): the observed pixels

    top: int = Field(ge=0)
    left: int = Field(ge=0)
    height: int = Field(ge=1)
    width: int = Field(ge=1)

    def image_shape_problems(self, image_shape: tuple[int, int, int]) -> list[tuple[str, str]]:
        _, height, width = image_shape
        problems = []
        for start, size, side, (start_name, size_name), what in (
            (self.top, self.height, height, ("top", "height"), "rows"),
            (self.left, self.width, width, ("left", "width"), "columns"),
        ):
            if start + size > side:
                problems.append((
                    start_name if start >= side else size_name,
                    f"the missing box {what} {start}..{start + size - 1} do not fit in a {height} x {width} image "
                    f"({what} 0..{side - 1}); move or shrink it",
                ))
        return problems


class InpaintRandomParams(ImageNoiseParams):
    """Random-pixel inpainting: exactly round(observed * H * W) pixels observed (ILO: down to 1%)."""

    provides_mask = True  # observed_mask(): the observed pixels

    observed: float = Field(description="fraction of pixels observed, in (0, 1]")
    per_channel: bool = Field(False, description="draw one mask per channel instead of one per pixel")

    @field_validator("observed")
    @classmethod
    def _observed_in_range(cls, value: float) -> float:
        return _check_fraction(value, "the observed fraction")


class InpaintPatternParams(ImageNoiseParams):
    """Random blob-pattern holes, about 25% missing (Yeh et al.'s "pattern" masks)."""

    provides_mask = True  # observed_mask(): the observed pixels

    missing: float = Field(0.25, gt=0, lt=1, description="fraction of pixels missing, in (0, 1)")
    blob_size: float | None = Field(None, gt=0, description="typical hole size in pixels; default max(H, W) / 6")


class InpaintHalfParams(ImageNoiseParams):
    """Inpainting with half of the image missing (Yeh et al.'s "half" masks)."""

    provides_mask = True  # observed_mask(): the observed pixels

    missing: Literal["left", "right", "top", "bottom", "random"] = Field(
        "left", description="which half is missing; random picks one of the four from the seed"
    )


class InpaintMaskFileParams(ImageNoiseParams):
    """Inpainting with a mask image file of any size: white or opaque = observed (see README)."""

    provides_mask = True  # observed_mask(): the observed pixels

    path: RecipePath = Field(description="PNG/any Pillow image; RGBA alpha, else brightness, >= threshold = observed")
    threshold: float = Field(0.5, ge=0, le=1, description="observed where value / 255 >= threshold")
    invert: bool = Field(False, description="for files that mark holes in white/opaque")


class DownsampleParams(ImageNoiseParams):
    """Super-resolution: antialiased downsampling by an integer factor (bicubic Keys a=-0.5, lanczos3, box)."""

    factor: int = Field(ge=1, description="integer factor dividing both image sides; 1 = identity")
    method: Literal["bicubic", "lanczos3", "box"] = Field("bicubic", description="bicubic (PULSE/ILO), lanczos3 (LCM), box")

    def image_shape_problems(self, image_shape: tuple[int, int, int]) -> list[tuple[str, str]]:
        _, height, width = image_shape
        if height % self.factor or width % self.factor:
            divisors = [f for f in range(2, min(height, width) + 1) if height % f == 0 and width % f == 0]
            hint = f" (factors that do: {', '.join(map(str, divisors[:6]))})" if divisors else ""
            return [("factor", f"factor {self.factor} does not divide the image size {height} x {width}{hint}")]
        return []


class ColorizeParams(ImageNoiseParams):
    """Colorization: grey = mean of the RGB channels (LCM)."""


class SensingParams(NoiseParams):
    """Compressed sensing: m measurements of the flattened image (n = C*H*W)."""

    m: int | None = Field(None, description="number of measurements, 1 <= m <= n")
    fraction: float | None = Field(None, description="m / n, in (0, 1]; give m or fraction")

    @field_validator("m")
    @classmethod
    def _m_positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"the number of measurements m must be at least 1, got {value}")
        return value

    @field_validator("fraction")
    @classmethod
    def _fraction_in_range(cls, value: float | None) -> float | None:
        return _check_fraction(value, "the measurement fraction m / n")

    @model_validator(mode="after")
    def _m_or_fraction(self) -> SensingParams:
        if (self.m is None) == (self.fraction is None):
            raise ValueError("give exactly one of m (number of measurements) and fraction (m / n)")
        return self

    def image_shape_problems(self, image_shape: tuple[int, int, int]) -> list[tuple[str, str]]:
        n = image_shape[0] * image_shape[1] * image_shape[2]
        if self.m is not None and self.m > n:
            return [("m", f"m = {self.m} measurements exceed the signal dimension n = C*H*W = {n} of "
                          f"{image_shape[0]} x {image_shape[1]} x {image_shape[2]} images; take m <= n or a fraction")]
        return []


class CSGaussianParams(SensingParams):
    """Compressed sensing with a dense i.i.d. N(0, 1/m) matrix (small images only)."""

    max_matrix_bytes: int = Field(2**30, ge=1, description="refuse matrices larger than this (float32 bytes)")


class CSCirculantParams(SensingParams):
    """Compressed sensing y = S_m C_g D x: partial circulant with random signs, by FFT (ILO sec. 3.4)."""

    distribution: Literal["gaussian", "rademacher"] = Field("gaussian", description="entries of g: N(0, 1/m) or ±1/sqrt(m)")
    rows: Literal["first", "random"] = Field("first", description="which m outputs of C_g D x are kept")


class JpegParams(Params):
    """JPEG restoration: observe Pillow JPEG at quality q, fit with A = I and a quadratic loss (LCM app. H)."""

    quality: int = Field(ge=1, le=95, description="Pillow JPEG quality, 1 (worst) .. 95")


class ClassifierParams(Params):
    """Classifier operator: y = log-probabilities of a frozen image classifier (ILO's OOD generation)."""

    architecture: Literal["lenet5"] = Field("lenet5", description="classifier architecture")
    weights: RecipePath | None = Field(description="state dict file; null = random initialisation from the seed (tests)")


class DenoisePoissonParams(Params):
    """Poisson denoising: y = 2 N / peak - 1 with N ~ Poisson(peak * (x + 1) / 2), photon-limited imaging."""

    peak: float = Field(gt=0, description="expected photon count at white; lower = noisier (10 is very noisy)")


class BlurParams(ImageNoiseParams):
    """Blur with a kernel given as a 2-D list (a true convolution; the adjoint is the transposed one)."""

    kernel: list[list[float]] = Field(description="rows of the kernel, e.g. [[0, 1, 0], [1, 4, 1], [0, 1, 0]]")
    normalize: bool = Field(True, description="divide the kernel by its sum so that a flat image stays flat")
    padding: Literal["valid", "zeros"] = Field(
        "valid", description="valid: output shrinks by the kernel size - 1, nothing assumed outside (deepinv's "
        "default); zeros: same size, zero (mid-grey) outside, odd kernel sides"
    )

    @field_validator("kernel")
    @classmethod
    def _rectangular(cls, value: list[list[float]]) -> list[list[float]]:
        if not value or not value[0] or any(len(row) != len(value[0]) for row in value):
            raise ValueError("the kernel must be a non-empty list of rows of equal length")
        return value


class GaussianBlurParams(ImageNoiseParams):
    """Gaussian blur of std sigma pixels (or [sigma_y, sigma_x]); the adjoint is the transposed convolution."""

    sigma: float | tuple[float, float] = Field(description="standard deviation in pixels, > 0")
    size: OddWindow | None = Field(None, description="odd kernel side; default 2 * ceil(3 * sigma) + 1")
    padding: Literal["valid", "zeros"] = Field("valid", description="valid (output shrinks) or zeros (same size)")

    @field_validator("sigma")
    @classmethod
    def _positive(cls, value: float | tuple[float, float]) -> float | tuple[float, float]:
        if min((value,) if isinstance(value, (int, float)) else value) <= 0:
            raise ValueError(f"sigma must be > 0 pixels, got {value}")
        return value


class MotionBlurParams(ImageNoiseParams):
    """Linear motion blur: a segment of length pixels at angle degrees (a non-symmetric kernel's adjoint differs from A)."""

    length: float = Field(gt=0, description="length of the motion in pixels")
    angle: float = Field(0.0, description="direction in degrees, counter-clockwise from the x axis")
    size: OddWindow | None = Field(None, description="odd kernel side; default the smallest holding the segment")
    padding: Literal["valid", "zeros"] = Field("valid", description="valid (output shrinks) or zeros (same size)")


class ComposeParams(Params):
    """Composition of operators, applied first to last (only the last may have noise)."""

    mask_from_first = "operators"  # observed_mask() is the first operator's

    operators: Annotated[list[ComponentSpec], NestedKind("operators"), Field(min_length=1)]


# -- factories ---------------------------------------------------------------------------


def _image_shape(context: Any, name: str) -> tuple[int, int, int]:
    shape = context.image_shape
    if shape is None or len(shape) != 3:
        raise ValueError(
            f"operator {name!r} needs the image shape (C, H, W) to be built; in a compose it must "
            "follow operators that output images"
        )
    return tuple(int(s) for s in shape)


def _noise(params: NoiseParams):
    from .noise import noise_model

    return noise_model(params.noise_sigma, getattr(params, "poisson_peak", None))


def _on_device(operator, context):
    return operator.to(context.device)


def _build_identity(params: IdentityParams, context):
    from .basic import Identity

    return _on_device(Identity(), context)


def _build_denoise(params: DenoiseParams, context):
    from .basic import Identity
    from .noise import gaussian_noise

    return _on_device(Identity(gaussian_noise(params.sigma, clip=params.clip)), context)


def _mask_operator(mask, params: NoiseParams, context):
    from .masks import MaskOperator

    return _on_device(MaskOperator(mask, _noise(params)), context)


def _build_inpaint_center(params: InpaintCenterParams, context):
    from .masks import center_box_mask, center_box_size

    _, height, width = _image_shape(context, "inpaint-center")
    if params.size is None:
        box = center_box_size(height, width, params.fraction if params.fraction is not None else 0.5)
    else:
        box = (params.size, params.size) if isinstance(params.size, int) else params.size
    return _mask_operator(center_box_mask(height, width, *box), params, context)


def _build_inpaint_box(params: InpaintBoxParams, context):
    from .masks import box_mask

    _, height, width = _image_shape(context, "inpaint-box")
    mask = box_mask(height, width, params.top, params.left, params.height, params.width)
    return _mask_operator(mask, params, context)


def _build_inpaint_random(params: InpaintRandomParams, context):
    from .masks import random_pixel_mask

    channels, height, width = _image_shape(context, "inpaint-random")
    mask = random_pixel_mask(
        channels, height, width, params.observed, context.rng("operator"), per_channel=params.per_channel
    )
    return _mask_operator(mask, params, context)


def _build_inpaint_pattern(params: InpaintPatternParams, context):
    from .masks import pattern_mask

    _, height, width = _image_shape(context, "inpaint-pattern")
    mask = pattern_mask(height, width, context.rng("operator"), missing=params.missing, blob_size=params.blob_size)
    return _mask_operator(mask, params, context)


def _build_inpaint_half(params: InpaintHalfParams, context):
    import torch

    from .masks import half_mask

    _, height, width = _image_shape(context, "inpaint-half")
    missing = params.missing
    if missing == "random":
        sides = ("left", "right", "top", "bottom")
        missing = sides[int(torch.randint(0, 4, (), generator=context.rng("operator")))]
    return _mask_operator(half_mask(height, width, missing), params, context)


def _build_inpaint_mask_file(params: InpaintMaskFileParams, context):
    from .mask_file import mask_from_file

    _, height, width = _image_shape(context, "inpaint-mask-file")
    mask = mask_from_file(params.path, height, width, threshold=params.threshold, invert=params.invert)
    return _mask_operator(mask, params, context)


def _build_downsample(params: DownsampleParams, context):
    from .downsample import Downsample

    shape = _image_shape(context, "downsample")
    return _on_device(Downsample(shape, params.factor, params.method, _noise(params)), context)


def _build_colorize(params: ColorizeParams, context):
    from .colorize import Colorize

    channels, _, _ = _image_shape(context, "colorize")
    return _on_device(Colorize(channels, _noise(params)), context)


def _measurements(params: SensingParams, shape: tuple[int, int, int]) -> int:
    import math

    from .sensing import measurement_count

    return measurement_count(math.prod(shape), params.m, params.fraction)


def _build_cs_gaussian(params: CSGaussianParams, context):
    from .sensing import GaussianSensing

    shape = _image_shape(context, "cs-gaussian")
    operator = GaussianSensing.random(
        shape,
        _measurements(params, shape),
        context.rng("operator"),
        max_matrix_bytes=params.max_matrix_bytes,
        noise=_noise(params),
    )
    return _on_device(operator, context)


def _build_cs_circulant(params: CSCirculantParams, context):
    from .sensing import CirculantSensing

    shape = _image_shape(context, "cs-circulant")
    operator = CirculantSensing.random(
        shape,
        _measurements(params, shape),
        context.rng("operator"),
        distribution=params.distribution,
        row_selection=params.rows,
        noise=_noise(params),
    )
    return _on_device(operator, context)


def _build_denoise_poisson(params: DenoisePoissonParams, context):
    from .basic import Identity
    from .noise import PoissonNoise

    return _on_device(Identity(PoissonNoise(params.peak)), context)


def _blur_operator(kernel, params, context, name: str):
    from .blur import Blur

    _, height, width = _image_shape(context, name)
    kh, kw = kernel.shape
    if params.padding == "valid" and (kh > height or kw > width):
        raise ValueError(
            f"the {name} kernel ({kh} x {kw}) is larger than the image ({height} x {width}) with padding "
            "'valid'; use a smaller kernel or padding 'zeros'"
        )
    return _on_device(Blur(kernel, params.padding, _noise(params)), context)


def _build_blur(params: BlurParams, context):
    import torch

    kernel = torch.tensor(params.kernel, dtype=torch.float64)
    if params.normalize:
        total = kernel.sum()
        if total == 0:
            raise ValueError("the blur kernel sums to 0 and cannot be normalised; set normalize: false")
        kernel = kernel / total
    return _blur_operator(kernel, params, context, "blur")


def _build_gaussian_blur(params: GaussianBlurParams, context):
    from .blur import gaussian_kernel

    return _blur_operator(gaussian_kernel(params.sigma, params.size), params, context, "blur-gaussian")


def _build_motion_blur(params: MotionBlurParams, context):
    from .blur import motion_kernel

    return _blur_operator(motion_kernel(params.length, params.angle, params.size), params, context, "blur-motion")


def _build_jpeg(params: JpegParams, context):
    from .jpeg import JpegOperator

    return _on_device(JpegOperator(params.quality), context)


def _build_classifier(params: ClassifierParams, context):
    from .classifier import ARCHITECTURES, ClassifierOperator, load_classifier

    model = load_classifier(params.architecture, params.weights, context.rng("operator"))
    return _on_device(ClassifierOperator(model, ARCHITECTURES[params.architecture][1]), context)


def _build_compose(params: ComposeParams, context):
    from .compose import build_composition

    return build_composition(params.operators, context)


@hookimpl
def invprob_register_operators(registry: ComponentRegistry) -> None:
    add = registry.add
    add("identity", _build_identity, params_model=IdentityParams, examples=[{}])
    add("denoise", _build_denoise, params_model=DenoiseParams, examples=[{"sigma": 25}, {"sigma": 50, "clip": True}])
    add(
        "inpaint-center",
        _build_inpaint_center,
        params_model=InpaintCenterParams,
        examples=[{"fraction": 0.5}, {"size": [6, 4], "noise_sigma": 5}],
    )
    add("inpaint-box", _build_inpaint_box, params_model=InpaintBoxParams, examples=[{"top": 2, "left": 3, "height": 5, "width": 7}])
    add(
        "inpaint-random",
        _build_inpaint_random,
        params_model=InpaintRandomParams,
        examples=[{"observed": 0.2}, {"observed": 0.5, "per_channel": True, "noise_sigma": 10}],
    )
    add("inpaint-pattern", _build_inpaint_pattern, params_model=InpaintPatternParams, examples=[{}])
    add(
        "inpaint-half",
        _build_inpaint_half,
        params_model=InpaintHalfParams,
        examples=[{"missing": "left"}, {"missing": "bottom"}, {"missing": "random"}],
    )
    add(
        "inpaint-mask-file",
        _build_inpaint_mask_file,
        params_model=InpaintMaskFileParams,
        examples=[{"path": str(EXAMPLE_MASK)}, {"path": str(EXAMPLE_MASK), "invert": True}],
    )
    add(
        "downsample",
        _build_downsample,
        params_model=DownsampleParams,
        examples=[{"factor": 2}, {"factor": 4, "method": "lanczos3"}, {"factor": 2, "method": "box", "noise_sigma": 10}, {"factor": 1}],
    )
    add("colorize", _build_colorize, params_model=ColorizeParams, examples=[{}, {"noise_sigma": 5}])
    add("cs-gaussian", _build_cs_gaussian, params_model=CSGaussianParams, examples=[{"fraction": 0.25}, {"m": 50, "noise_sigma": 1}])
    add(
        "cs-circulant",
        _build_cs_circulant,
        params_model=CSCirculantParams,
        examples=[{"fraction": 0.25}, {"m": 100, "distribution": "rademacher", "rows": "random"}],
    )
    add("denoise-poisson", _build_denoise_poisson, params_model=DenoisePoissonParams, examples=[{"peak": 30}])
    add(
        "blur",
        _build_blur,
        params_model=BlurParams,
        examples=[
            {"kernel": [[0, 1, 2], [3, 4, 0], [0, 5, 0]]},  # non-symmetric: A* is not A
            {"kernel": [[1, 2], [0, 3]], "normalize": False},
        ],
    )
    add(
        "blur-gaussian",
        _build_gaussian_blur,
        params_model=GaussianBlurParams,
        examples=[{"sigma": [0.8, 1.5], "padding": "zeros", "noise_sigma": 5, "poisson_peak": 50}],
    )
    add(
        "blur-motion",
        _build_motion_blur,
        params_model=MotionBlurParams,
        examples=[{"length": 5, "angle": 30}],
    )
    add("jpeg", _build_jpeg, params_model=JpegParams, examples=[{"quality": 20}])
    add("classifier", _build_classifier, params_model=ClassifierParams, examples=[{"architecture": "lenet5", "weights": None}])
    add(
        "compose",
        _build_compose,
        params_model=ComposeParams,
        examples=[
            {"operators": [{"type": "downsample", "params": {"factor": 2}}, {"type": "denoise", "params": {"sigma": 10}}]},
            {"operators": [{"type": "inpaint-random", "params": {"observed": 0.5}}, {"type": "cs-circulant", "params": {"fraction": 0.5}}]},
        ],
    )
