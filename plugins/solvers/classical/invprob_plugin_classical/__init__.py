"""Classical baselines: every comparison table gets a non-learned row."""
