"""DCGAN generators for invprob: the Radford et al. family, the shared 32x32 CelebA DCGAN and a trained 64x64 face model."""

__version__ = "0.1.0"
