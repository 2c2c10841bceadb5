"""The convolutional-manifold prior of Latent Convolutional Models: z = f_phi(s), phi in a box."""

__version__ = "0.1.0"
