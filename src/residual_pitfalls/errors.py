"""The error every configuration check raises (its own module: the checks live in several)."""


class ConfigError(ValueError):
    """A configuration value is inconsistent; the message names the key."""
