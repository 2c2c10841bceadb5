"""CSGM: compressed sensing with generative models (Bora et al., ICML 2017)."""
