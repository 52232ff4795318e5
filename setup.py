"""Build hook: ships the clone's ``data/mnist-sample/`` inside the package (``prunekit/sample_data/``).

Everything else is declared in ``pyproject.toml``. The sample lives once in the
repository (``data/mnist-sample/``, with its README and generator); a plain
``pip install .`` copies it into the wheel so :func:`prunekit.run.resources.sample_dir`
finds it with :mod:`importlib.resources` after installation. An editable install
reads it from the clone directly.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SAMPLE = Path(__file__).resolve().parent / "data" / "mnist-sample"


class BuildWithSample(build_py):
    """``build_py`` plus a copy of the MNIST sample into ``prunekit/sample_data/mnist-sample``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        if not SAMPLE.is_dir():
            raise FileNotFoundError(f"the MNIST sample is missing from {SAMPLE}; it must ship with the package")
        target = Path(self.build_lib) / "prunekit" / "sample_data" / "mnist-sample"
        target.mkdir(parents=True, exist_ok=True)
        for file in sorted(SAMPLE.glob("*-ubyte.gz")):
            shutil.copyfile(file, target / file.name)


setup(cmdclass={"build_py": BuildWithSample})
