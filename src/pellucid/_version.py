"""The package version, in a module of its own.

Modules that report the version (the model card, the service) import it from
here rather than from ``pellucid`` itself, so that nothing imports the
top-level package from below. pyproject.toml reads it too.
"""

__version__ = "0.1.0"
