"""The error every StyleGAN2 reader raises for a file it cannot use."""

from __future__ import annotations

from invprob.weights import WeightsMismatchError


class StyleGAN2CheckpointError(WeightsMismatchError):
    """A file that is not a StyleGAN2 checkpoint we can read; the message names the file and what was expected."""
