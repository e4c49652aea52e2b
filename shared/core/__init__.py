"""The pure core: domain types, tag contract, planner, verdicts. No I/O, no SDK, no environment."""
