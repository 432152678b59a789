"""``python -m pellucid.cli``: the ``pellucid`` command, as ``python -m pellucid``."""

from . import main

if __name__ == "__main__":  # pragma: no cover
    main()
