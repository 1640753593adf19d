"""Between the config and the venvs: each env's desired state (from its lock or a resolve), what is
on disk (the survey), the pure plan between them, the no-op stamp, and carrying a plan out."""
