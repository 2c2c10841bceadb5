"""Unconditional sampling from a trained LCM or GLO (appendix I of the LCM paper).

The per-image parameters of the training set (LCM: every image's phi, flattened; GLO: every
image's z) are projected by PCA to ``dims`` dimensions and a ``mixture``-component,
full-covariance Gaussian mixture is fitted there (scikit-learn's ``PCA`` and
``GaussianMixture``). The fitted sampler is a few hundred kB: PCA mean and components,
mixture weights, means and the Cholesky factors of the covariances, saved as safetensors next
to the model, so sampling needs neither the per-image file nor scikit-learn.

Drawing is done in torch on a CPU generator with :mod:`invprob.seeding` (one seed, the same
samples everywhere): a component by its weight, ``y = mean_k + L_k eps``, then
``x = pca_mean + y @ components``. For LCM, ``x`` is a phi: its conv weights are clamped into
the box and ``z = f_phi(s)``; for GLO, ``x`` is z itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from invprob import seeding
from invprob.weights import save_safetensors


@dataclass
class GaussianMixtureSampler:
    """A PCA + Gaussian-mixture density over flat vectors; ``draw(batch, rng) -> [batch, n]``."""

    pca_mean: torch.Tensor  # [n]
    components: torch.Tensor  # [dims, n]
    weights: torch.Tensor  # [k]
    means: torch.Tensor  # [k, dims]
    cholesky: torch.Tensor  # [k, dims, dims], covariance = L L^T

    @classmethod
    def fit(cls, rows: np.ndarray, *, dims: int = 64, mixture: int = 3, seed: int = 0) -> GaussianMixtureSampler:
        """Fit PCA to ``dims`` dimensions (fewer when there are fewer rows) and the mixture."""
        from sklearn.decomposition import PCA
        from sklearn.mixture import GaussianMixture

        rows = np.asarray(rows)
        if rows.dtype not in (np.float32, np.float64):
            rows = rows.astype(np.float32)
        if rows.ndim != 2 or len(rows) < 2:
            raise ValueError(f"fitting a sampler needs at least 2 rows of vectors, got shape {rows.shape}")
        dims = max(1, min(dims, rows.shape[0] - 1, rows.shape[1]))
        mixture = max(1, min(mixture, rows.shape[0] // 2))
        pca = PCA(n_components=dims, random_state=seed).fit(rows)
        projected = pca.transform(rows)
        gmm = GaussianMixture(n_components=mixture, covariance_type="full", random_state=seed, reg_covar=1e-6).fit(projected)
        cholesky = np.linalg.cholesky(gmm.covariances_)
        as_tensor = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
        return cls(as_tensor(pca.mean_), as_tensor(pca.components_), as_tensor(gmm.weights_), as_tensor(gmm.means_), as_tensor(cholesky))

    def draw(self, batch: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """``batch`` samples ``[batch, n]`` (float32, CPU) drawn on ``rng``."""
        cumulative = torch.cumsum(self.weights / self.weights.sum(), 0)
        pick = torch.searchsorted(cumulative, seeding.rand((batch,), rng)).clamp(max=len(self.weights) - 1)
        eps = seeding.randn((batch, self.means.shape[1]), rng)
        y = self.means[pick] + torch.einsum("bij,bj->bi", self.cholesky[pick], eps)
        return self.pca_mean + y @ self.components

    def state(self) -> dict[str, torch.Tensor]:
        return {
            "pca_mean": self.pca_mean, "components": self.components, "weights": self.weights,
            "means": self.means, "cholesky": self.cholesky,
        }

    def save(self, path: str | Path, metadata: dict[str, str] | None = None) -> None:
        save_safetensors(self.state(), path, metadata)

    @classmethod
    def load(cls, path: str | Path) -> GaussianMixtureSampler:
        from invprob.weights import load_state_dict

        state = load_state_dict(path, what="LCM sampler")
        missing = {"pca_mean", "components", "weights", "means", "cholesky"} - state.keys()
        if missing:
            raise ValueError(f"{path} is not an LCM/GLO sampler file: it lacks {sorted(missing)}")
        return cls(**{k: state[k].float() for k in ("pca_mean", "components", "weights", "means", "cholesky")})
