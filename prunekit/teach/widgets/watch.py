"""Progress and cancellation of a run that happens inside :func:`prunekit.run.experiment.run_or_load`.

The run layer trains without callbacks, so :class:`Watch` observes it from outside with a
global forward pre-hook of PyTorch (``register_module_forward_pre_hook``), active only in the
thread that runs the work and only while it runs. The model's forward passes tell where the
run is: a training epoch ends when the model goes from training batches to the evaluation that
follows them. A cancelled run stops at its next forward pass (the next batch), before any
checkpoint or result is written, so the run folder keeps the last epoch's checkpoint and the
same configuration run again resumes from it (:func:`prunekit.run.experiment.run_singleshot`).

Example:
    >>> import torch
    >>> from prunekit.teach import lessons
    >>> net = lessons.tiny_network()
    >>> with Watch(epochs=1) as watch:
    ...     _ = net.train()(torch.ones(1, 2)); _ = net.eval()(torch.ones(1, 2))
    >>> watch.epochs_done, watch.batches
    (1, 1)
"""

from __future__ import annotations

import threading
from typing import Any

from torch import nn
from torch.nn.modules.module import register_module_forward_pre_hook
from tqdm.auto import tqdm

__all__ = ["RunCancelled", "Watch"]


class RunCancelled(BaseException):  # noqa: N818 - like KeyboardInterrupt, which no `except Exception` may swallow
    """Raised in the working thread at its next forward pass after :meth:`Watch.cancel`.

    A ``BaseException``, as ``KeyboardInterrupt`` is, so that no ``except Exception`` of the run
    catches it and carries on.
    """


class Watch:
    """Counts a run's training epochs (on a tqdm bar) and stops it when cancelled; a context manager.

    Only forward passes of the top-level model (the module with ``input_shape``, the model contract)
    in the thread that entered the context are counted.

    Args:
        epochs: The training epochs expected (pre- plus post-training): the bar's total.
        bar: A tqdm bar to advance by one per epoch; None = no bar.

    Attributes:
        epochs_done: Training epochs finished (a training pass followed by an evaluation).
        batches: Training batches seen.
        cancelled: Set by :meth:`cancel` (from any thread).
    """

    def __init__(self, epochs: int, bar: tqdm | None = None) -> None:
        self.total, self.bar = epochs, bar
        self.epochs_done = self.batches = 0
        self.cancelled = threading.Event()
        self._training = False
        self._thread: threading.Thread | None = None
        self._handle: Any = None

    def cancel(self) -> None:
        """Asks the watched work to stop at its next forward pass."""
        self.cancelled.set()

    def __enter__(self) -> Watch:
        self._thread = threading.current_thread()
        self._handle = register_module_forward_pre_hook(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()

    def _hook(self, module: nn.Module, inputs: Any) -> None:
        if threading.current_thread() is not self._thread:
            return
        if self.cancelled.is_set():
            raise RunCancelled(f"cancelled after {self.epochs_done} of {self.total} training epoch(s)")
        if not hasattr(module, "input_shape"):
            return
        if module.training:
            self._training = True
            self.batches += 1
        elif self._training:
            self._training = False
            if self.epochs_done < self.total:
                self.epochs_done += 1
                if self.bar is not None:
                    self.bar.update(1)
