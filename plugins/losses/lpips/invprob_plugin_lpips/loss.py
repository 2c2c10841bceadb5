"""LPIPS (Zhang et al., CVPR 2018) as a data-fidelity loss, with the weights of the pip ``lpips`` package.

    LPIPS(x, y) = sum_l mean_{h,w} w_l · (f̂_l(x) - f̂_l(y))^2

where ``f̂_l`` are the unit-normalised (over channels) activations of layer ``l`` of an
ImageNet classifier (AlexNet or VGG16, torchvision's layout) applied to the inputs after
LPIPS's fixed scaling layer, and ``w_l`` are LPIPS's learned non-negative 1x1 linear weights
("v0.1", shipped inside the ``lpips`` package as ``lpips/weights/v0.1/<net>.pth``).

Why not ``lpips.LPIPS`` itself: that class builds its backbone through torchvision, and the
torchvision wheels on PyPI are linked against CUDA builds of torch, so they do not import
with the CPU torch this project pins. The network below is the same computation with the same
state-dict layout (checked against ``lpips.LPIPS`` in the tests when torchvision is
importable), reading the ``lpips`` package's weight files directly (without importing it).

Backbone weights are looked up as torchvision does, in ``torch.hub.get_dir()/checkpoints/<file>``,
or at a path given in the recipe. When the default file is missing, it is fetched from
torchvision's URL (:data:`BACKBONE_URLS`) into that very path, and loaded only if its sha256
starts with the prefix torchvision publishes in the file name (``alexnet-owt-7be5be79.pth``:
``7be5be79``), the check ``torch.hub`` makes; a file that fails the check is deleted unread. On
a machine without network access the error says which file to put where, as before.

The "fill" variant for inpainting (``fill=True``, registered as the loss ``lpips-fill``): the
observation's missing pixels (``operator.observed_mask() == 0``) are replaced by the generated
image's before comparing, ``LPIPS(x, y * m + x * (1 - m))``, so the holes, identical on both
sides, add no spurious edges and only the observed pixels' differences count (in their
context). It needs the image ``x`` itself, which ``A(x)`` has zeroed in the holes: the loss
declares ``uses_image`` and the core passes it.
"""

from __future__ import annotations

import importlib.util
import urllib.error
import urllib.request
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from invprob.images import atomic_path
from invprob.loss import Loss
from invprob.operator import Operator
from invprob.weights import WeightsFileError, WeightsNotFoundError, load_state_dict, load_strict, sha256_of

BACKBONE_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}
"""torchvision's ImageNet checkpoints, by the names ``torch.hub`` caches them under."""

BACKBONE_URLS = {net: f"https://download.pytorch.org/models/{name}" for net, name in BACKBONE_FILES.items()}
"""Where torchvision downloads them from."""

DOWNLOAD_TIMEOUT = 30.0
"""Seconds a download may wait for the server before it counts as offline."""

_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}
_TAPS = {"alex": (1, 4, 7, 9, 11), "vgg": (3, 8, 15, 22, 29)}  # ReLU outputs LPIPS compares
MIN_SIZE = {"alex": 31, "vgg": 16}
"""Smallest height/width each backbone reaches its deepest compared layer with."""


def _alexnet_features() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True),
    )  # torchvision's alexnet().features without the last pool, which LPIPS never reaches


def _vgg16_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for width in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512):
        if width == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, int(width), 3, padding=1), nn.ReLU(inplace=True)]
            channels = int(width)
    return nn.Sequential(*layers)  # torchvision's vgg16().features up to relu5_3


def default_backbone_path(net: str) -> Path:
    """Where torchvision's ``load_state_dict_from_url`` would have cached the backbone."""
    return Path(torch.hub.get_dir()) / "checkpoints" / BACKBONE_FILES[net]


def default_lin_weights_path(net: str) -> Path:
    """``lpips/weights/v0.1/<net>.pth`` of the installed ``lpips`` package (not imported)."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(
            "LPIPS needs the linear-layer weights that ship with the pip package 'lpips': "
            "run `pip install --no-deps lpips`, or give their path as the loss's 'lin_weights' param"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "weights" / "v0.1" / f"{net}.pth"


class LPIPSLoss(Loss):
    """LPIPS distance between predicted and observed measurements, per sample ``[B]``.

    Inputs are images in [-1, 1] with 1 or 3 channels (grey images are repeated to RGB) and at
    least :data:`MIN_SIZE` pixels high and wide. Every parameter is frozen; gradients flow to
    the inputs only.
    """

    def __init__(self, net: str = "alex", size: int | None = None, fill: bool = False):
        super().__init__()
        if net not in _CHANNELS:
            raise ValueError(f"unknown LPIPS backbone {net!r}; expected 'alex' or 'vgg'")
        self.net = net
        self.size = size
        self.fill = fill
        self.uses_image = fill  # the fill variant needs x itself, not only A(x)
        self.features = _alexnet_features() if net == "alex" else _vgg16_features()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in _CHANNELS[net])
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).reshape(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).reshape(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def load_backbone(self, path: str | Path) -> None:
        """Load torchvision's ImageNet checkpoint (only its ``features.*`` tensors are used)."""
        state = load_state_dict(path, what=f"LPIPS {self.net} backbone")
        features = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        features = {k: v for k, v in features.items() if int(k.split(".")[0]) < len(self.features)}
        load_strict(self.features, features, what=f"LPIPS {self.net} backbone")

    def load_lins(self, path: str | Path) -> None:
        """Load the ``lpips`` package's linear weights (keys ``lin<k>.model.1.weight``)."""
        state = load_state_dict(path, what=f"LPIPS {self.net} linear layers")
        renamed = {f"{k[3]}.weight": v for k, v in state.items() if k.startswith("lin")}
        load_strict(self.lins, renamed, what=f"LPIPS {self.net} linear layers")

    def distance(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """LPIPS between two image batches ``[N, C, H, W]`` in [-1, 1]: shape ``[N]``."""
        if min(x.shape[-2:]) < MIN_SIZE[self.net]:
            raise ValueError(
                f"LPIPS with the {self.net} backbone needs measurements at least "
                f"{MIN_SIZE[self.net]}x{MIN_SIZE[self.net]}, got {tuple(x.shape[-2:])}; use "
                "net: vgg (16x16 and up) or a pixel loss for smaller measurements"
            )
        if x.shape[1] == 1:
            x, y = x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1)
        if x.shape[1] != 3:
            raise ValueError(f"LPIPS compares RGB or grey images, got {x.shape[1]} channels")
        both = torch.cat([x, y.expand_as(x)]) if y.shape[0] != x.shape[0] else torch.cat([x, y])
        h = (both - self.shift) / self.scale
        total = x.new_zeros(x.shape[0])
        taps = iter(zip(_TAPS[self.net], self.lins))
        tap, lin = next(taps)
        for index, layer in enumerate(self.features):
            h = layer(h)
            if index == tap:
                unit = h / (h.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
                fx, fy = unit.chunk(2)
                total = total + lin((fx - fy) ** 2).mean(dim=(1, 2, 3))
                nxt = next(taps, None)
                if nxt is None:
                    break
                tap, lin = nxt
        return total

    def forward(
        self, prediction: torch.Tensor, observation: torch.Tensor, operator: Operator, image: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.fill:
            prediction, observation = filled(image, observation, operator)
        if self.size is not None and tuple(prediction.shape[-2:]) != (self.size, self.size):
            # the ILO paper (sec. 4.2, after StyleGAN2's projector) compares at 256x256: area
            # averaging downwards, bilinear upwards, the same resampling on both sides
            mode = "area" if min(prediction.shape[-2:]) > self.size else "bilinear"
            resize = lambda t: F.interpolate(t, size=(self.size, self.size), mode=mode)  # noqa: E731
            prediction, observation = resize(prediction), resize(observation)
        return self.distance(prediction, observation)


def filled(image: torch.Tensor | None, observation: torch.Tensor, operator: Operator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y * m + x * (1 - m))``: the observation with its missing pixels taken from the image.

    ``m`` is ``operator.observed_mask()`` (1 = observed), repeated for batched restarts
    (restart-major, as :meth:`invprob.problem.InverseProblem.observation_for`).
    """
    if image is None:
        raise ValueError(
            "LPIPS fill needs the generated image itself (keyword 'image'), which InverseProblem.measurement_loss "
            "passes to a loss with uses_image; called without it, use the plain 'lpips' loss"
        )
    mask = operator.observed_mask()
    if mask is None:
        raise ValueError(
            f"LPIPS fill replaces the observation's missing pixels, but {type(operator).__name__} has no mask; "
            "use it with an inpainting operator, or the plain 'lpips' loss"
        )
    if tuple(observation.shape) != tuple(image.shape) or tuple(mask.shape[-2:]) != tuple(image.shape[-2:]):
        raise ValueError(
            f"LPIPS fill compares image-shaped observations: image {tuple(image.shape)}, observation "
            f"{tuple(observation.shape)}, mask {tuple(mask.shape)}"
        )
    mask = mask.to(device=image.device, dtype=image.dtype)
    if mask.shape[0] not in (1, image.shape[0]):
        mask = mask.repeat(image.shape[0] // mask.shape[0], 1, 1, 1)
    return image, observation * mask + image * (1 - mask)


def build_lpips(
    net: str = "alex",
    backbone_weights: str | Path | None = None,
    lin_weights: str | Path | None = None,
    random_backbone: bool = False,
    size: int | None = None,
    fill: bool = False,
) -> LPIPSLoss:
    """An :class:`LPIPSLoss` with its weights loaded.

    ``backbone_weights`` defaults to torchvision's cache file (:func:`default_backbone_path`);
    when it is missing it is downloaded there with its hash checked (:func:`fetch_backbone`),
    and when that cannot be done the error says which file to put where. ``random_backbone=True``
    keeps a randomly initialised backbone: only for tests of the code path, perceptually
    meaningless. ``fill``: the inpainting variant (module docstring).
    """
    loss = LPIPSLoss(net, size=size, fill=fill)
    if not random_backbone:
        path = Path(backbone_weights) if backbone_weights is not None else default_backbone_path(net)
        if not path.is_file():
            if backbone_weights is not None:
                raise WeightsNotFoundError(_missing_backbone(net, path, given=True))
            fetch_backbone(net, path)
        loss.load_backbone(path)
    lin_path = Path(lin_weights) if lin_weights is not None else default_lin_weights_path(net)
    if not lin_path.is_file():
        raise WeightsNotFoundError(f"LPIPS linear-layer weights not found at {lin_path}")
    loss.load_lins(lin_path)
    return loss


def _download(url: str, destination: Path, timeout: float) -> None:
    """Write the body of ``url`` to ``destination`` (raises ``OSError``/``URLError`` when offline)."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(destination, "wb") as handle:  # noqa: S310 - a fixed https URL
        while chunk := response.read(1 << 20):
            handle.write(chunk)


def hash_prefix(net: str) -> str:
    """The sha256 prefix torchvision publishes in the backbone's file name (``-<hex>.pth``)."""
    return BACKBONE_FILES[net].rsplit("-", 1)[1].split(".")[0]


def fetch_backbone(net: str, path: Path) -> Path:
    """Download torchvision's backbone to ``path`` and check its sha256 prefix; return ``path``.

    The file is written next to ``path`` under a temporary name and renamed only after its hash
    matched, so ``path`` never holds an unverified file; one that fails the check is deleted and
    :class:`WeightsFileError` names both hashes. When the download cannot start or breaks off
    (no network), :class:`WeightsNotFoundError` says which file to put where.
    """
    url = BACKBONE_URLS[net]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        raise WeightsNotFoundError(_missing_backbone(net, path, given=False)) from None
    with atomic_path(path) as partial:  # removed unless the block ends well
        try:
            _download(url, partial, DOWNLOAD_TIMEOUT)
        except (OSError, urllib.error.URLError, ValueError):
            raise WeightsNotFoundError(_missing_backbone(net, path, given=False)) from None
        digest = sha256_of(partial)
        expected = hash_prefix(net)
        if not digest.startswith(expected):
            raise WeightsFileError(
                f"the LPIPS ({net}) backbone downloaded from {url} has sha256 {digest[:16]}..., not "
                f"{expected}... as torchvision publishes; it was deleted unread (put the right file at {path})"
            )
    return path


def _missing_backbone(net: str, path: Path, *, given: bool) -> str:
    wanted = BACKBONE_FILES[net]
    if given:
        return f"LPIPS ({net}) backbone weights not found at {path} (torchvision's ImageNet checkpoint {wanted})"
    return (
        f"LPIPS ({net}) needs torchvision's ImageNet weights {wanted}, looked for in {path.parent}: "
        "put that file there or give its path as the 'backbone_weights' param"
    )
