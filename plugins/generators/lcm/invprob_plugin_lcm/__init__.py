"""Latent Convolutional Models for invprob: hourglass generator, Lap-L1 loss, LCM/GLO training and models."""

__version__ = "0.1.0"
