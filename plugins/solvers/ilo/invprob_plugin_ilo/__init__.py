"""ILO: Intermediate Layer Optimization (Daras et al., ICML 2021) on any splittable generator."""
