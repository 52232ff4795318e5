"""``python -m prunekit``: the same command line as ``prunekit`` (:mod:`prunekit.cli`)."""

import sys

from prunekit.cli import main

sys.exit(main())
