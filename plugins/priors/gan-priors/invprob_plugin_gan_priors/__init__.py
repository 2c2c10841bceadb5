"""Latent priors: the discriminator prior (Yeh et al. eq. 5), the Gaussian norm, the box constraint."""
