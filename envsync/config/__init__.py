"""Reading envs.toml: finding the file, validating it, and turning it into frozen EnvSpec values."""
