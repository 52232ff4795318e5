"""An argument parser whose errors are one line: what is wrong and where to look (``-h``).

Example:
    >>> parser = OneLineParser(prog="prunekit")
    >>> _ = parser.add_argument("--seed", type=int)
    >>> parser.parse_args(["--seed", "1"]).seed
    1
"""

from __future__ import annotations

import argparse
from typing import NoReturn

__all__ = ["OneLineParser"]


class OneLineParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` that reports a bad command line in one line (no usage block) and exits 2."""

    def error(self, message: str) -> NoReturn:
        """Prints ``<prog>: error: <message> (see <prog> -h)`` to stderr and exits 2.

        Raises:
            SystemExit: Always, with code 2.
        """
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")
