"""mlci: the CI/CD loop for machine-learning repositories."""

__version__ = "0.1.0"
