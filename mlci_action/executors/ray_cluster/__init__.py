"""The ``ray`` executor: training, model tests, data tests and scoring as tasks on a Ray cluster.

mlci submits through **Ray Client** (``ray://head:10001``), not the Jobs API: every result
mlci needs (the model file, the metrics, the pytest report, the task's log) comes back as the
task's return value through the object store, so no shared filesystem, external storage or log
scraping is needed; a task is cancelled by its object ref; and each task carries its own
resources, retries and runtime environment. Ray Client's documented limits (the connection
must stay up for the run; objects of a few GB at most; client and cluster on the same Ray and
Python minor version) fit a CI run of minutes that moves one model and one report: the
versions are checked before any work starts (:mod:`.connection`).

Modules: :mod:`.connection` (address, probe, versions), :mod:`.environment` (the runtime
environment), :mod:`.runtime` (tasks, files, retries, cancel), :mod:`.node` (what runs on the
cluster's nodes), :mod:`.executor` (the Executor).
"""

from mlci_action.executors.ray_cluster.connection import ClusterSettings, settings
from mlci_action.executors.ray_cluster.executor import RayExecutor

__all__ = ["ClusterSettings", "RayExecutor", "settings"]
