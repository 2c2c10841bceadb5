"""Latent geometry priors: the l1 ball around a centre (ILO), the sphere and geocross (PULSE)."""
