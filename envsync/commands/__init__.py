"""Commands that build on the plan/apply loop: `run` and `watch`."""
