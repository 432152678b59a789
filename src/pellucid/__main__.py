"""``python -m pellucid``: the ``pellucid`` command."""

from pellucid.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
