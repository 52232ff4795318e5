"""``python -m prunekit``: the same command line as ``prunekit`` (:mod:`prunekit.cli`)."""

import sys

from prunekit.cli import main

if __name__ == "__main__":
    sys.exit(main())
