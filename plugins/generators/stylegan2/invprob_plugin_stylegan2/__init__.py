"""invprob-plugin-stylegan2: a pure-PyTorch StyleGAN2 (rosinality layout) for invprob."""

__version__ = "0.1.0"
