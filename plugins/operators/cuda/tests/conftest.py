"""Nothing to configure: invprob's testing kit is loaded by the repository's pytest options."""
