"""Which first-party distribution provides which component, for "pip install ..." hints.

Only consulted when a recipe names a component that no installed plugin registers. Third-party
plugins are not listed here; for them the error lists the installed names instead.
"""

from __future__ import annotations

KNOWN_PROVIDERS: dict[str, dict[str, str]] = {
    "generators": {
        "dcgan": "invprob-plugin-dcgan",
        "dcgan32-celeba": "invprob-plugin-dcgan",
        "stylegan2": "invprob-plugin-stylegan2",
        "lcm": "invprob-plugin-lcm",
        "glo": "invprob-plugin-lcm",
        "dip": "invprob-plugin-lcm",
    },
    "operators": {
        name: "invprob-plugin-imaging"
        for name in (
            "identity",
            "denoise",
            "inpaint-center",
            "inpaint-box",
            "inpaint-random",
            "inpaint-pattern",
            "inpaint-half",
            "inpaint-mask-file",
            "downsample",
            "colorize",
            "cs-gaussian",
            "cs-circulant",
            "jpeg",
            "classifier",
            "compose",
        )
    },
    "priors": {
        "discriminator": "invprob-plugin-gan-priors",
        "gaussian-norm": "invprob-plugin-gan-priors",
        "box": "invprob-plugin-gan-priors",
        "sphere": "invprob-plugin-priors",
        "l1-ball": "invprob-plugin-priors",
        "geocross": "invprob-plugin-priors",
        "conv-manifold": "invprob-plugin-lcm",
    },
    "losses": {
        "context": "invprob-plugin-yeh",
        "lpips": "invprob",
        "laplacian-l1": "invprob-plugin-lcm",
    },
    "solvers": {
        "csgm": "invprob-plugin-csgm",
        "yeh": "invprob-plugin-yeh",
        "pulse": "invprob-plugin-ilo",
        "ilo": "invprob-plugin-ilo",
        "tv-inpaint": "invprob-plugin-classical",
        "biharmonic-inpaint": "invprob-plugin-classical",
        "bicubic-upsample": "invprob-plugin-classical",
        "tv-denoise": "invprob-plugin-classical",
        "nl-means-denoise": "invprob-plugin-classical",
        "lcm": "invprob-plugin-lcm",
        "dip": "invprob-plugin-lcm",
    },
}


def distribution_providing(kind: str, name: str) -> str | None:
    """The first-party distribution known to provide ``name`` of ``kind``, if any."""
    return KNOWN_PROVIDERS.get(kind, {}).get(name)
