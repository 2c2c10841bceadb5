"""PULSE (Menon et al., CVPR 2020): latent search on the sphere, with a target loss it reports on."""
