"""`make demo`: the newcomer's first minutes, on the embedded local cloud (no Azure account needed)."""
