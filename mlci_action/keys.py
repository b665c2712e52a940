"""One content key per side: what its model depends on, whichever role the side plays.

A commit trained as the candidate and later checked out as the baseline gets the same key,
so the run cache's model is reused instead of retrained. The key covers the code (every file
git would track, mlci.yaml aside), the data files (even when git ignores them; a partitioned data set as
:func:`mlci_action.dataset.data_digest` keys it), the resolved
training parameters, the settings that decide training, the environment (the executor's key)
and mlci's version; never which commit, branch or role.
"""

from __future__ import annotations

from pathlib import Path

from mlci_action import __version__
from mlci_action.config import CONFIG_FILE, Config
from mlci_action.dataset import data_digest
from mlci_action.errors import MlciError
from mlci_action.executors import Executor
from mlci_action.hashing import tree_digest, value_digest
from mlci_action.params import load_params


def training_settings(config: Config) -> dict[str, object]:
    """The parts of mlci.yaml training depends on (gates, checks or deploy settings do not:
    changing them retrains nothing)."""
    data = config.data
    return {
        "data": {"train": data.train, "test": data.test, "target": data.target},
        "training": config.training.model_dump(mode="json", exclude={"timeout"}),
        "task": config.evaluation.task,
        # the executor that actually runs is in the key (side_key), not the configured word:
        # a pull request's trusted config turns "auto" into "docker", and the same content
        # must keep its key when the merge to main runs it again
        "environment": config.environment.model_dump(mode="json", exclude={"executor"}),
    }


def side_key(project: Path, config: Config, executor: Executor) -> str:
    """The key of the side whose files are in ``project`` (a working tree or a checkout) and
    which trains with ``config``."""
    try:
        params: object = load_params(project, config)
    except MlciError as exc:  # the train stage says so; the key just differs
        params = {"unreadable": exc.message}
    return value_digest(
        {
            # mlci.yaml itself is left out: its training settings are in, its gates are not
            "code": tree_digest(project, skip=(CONFIG_FILE,)),
            "data": {
                name: data_digest(project, name) for name in (config.data.train, config.data.test)
            },
            "params": params,
            "settings": training_settings(config),
            "executor": executor.name,
            "environment": executor.key(project, config),
            "mlci": __version__,
        }
    )
