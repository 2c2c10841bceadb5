"""Semantic image inpainting with deep generative models (Yeh et al., CVPR 2017)."""
