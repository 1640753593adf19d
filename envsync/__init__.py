"""envsync: declare Python virtual environments in envs.toml; plan and apply them."""

__version__ = "0.1.0"
