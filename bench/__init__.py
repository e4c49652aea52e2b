"""`make bench`: sc-autopilot measured against ARM's throttle floor on generated estates (docs in README)."""
