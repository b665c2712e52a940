"""The worker: the part of mlci that runs inside the project's environment.

The parent process (the CLI) stays light and never imports pandas or scikit-learn; each
heavy task runs here, as ``python -m mlci_action.worker TASK REQUEST.json RESULT.json``,
with the project's own versions of its libraries, so training, testing and serving share one
environment. A task is a function ``run(request: dict) -> dict`` registered in :data:`TASKS`.
"""
