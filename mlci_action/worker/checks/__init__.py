"""The data checks of the worker task "data-tests", one module per family.

``columns`` (train and test have the same columns), ``schema`` (the project's pandera schema),
``duplicates`` (repeated rows within a file), ``constant`` (one-valued features), ``leakage``
(test rows also in train), ``categories`` (values only one file has), ``target`` (missing,
unseen, rare and shifted labels) and ``drift`` (baseline against candidate). Each returns
:class:`~mlci_action.record.DataCheck` records; :func:`run` gathers them into a
:class:`~mlci_action.record.DataReport`. Everything is vectorized: no per-row Python work, so a
million rows take seconds, not minutes. Failure examples name rows by their line in the file
(:mod:`mlci_action.worker.checks.table`).
"""

from mlci_action.worker.checks.run import run

__all__ = ["run"]
