"""The project's code sees an allow-listed environment in the local and current executors too:
mlci's own secrets stay in mlci's process unless the config's pass_env names them."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.test_run import read_run

PROBE = "import json, os\nprint('ENV-DUMP ' + json.dumps(dict(os.environ)))\n"


@pytest.mark.parametrize("executor", ["local", "current"])
def test_training_sees_no_secret_of_mlcis(make_project, mlci, executor):
    project = make_project("classification")
    train = project / "train.py"
    train.write_text(PROBE + train.read_text())
    config = yaml.safe_load((project / "mlci.yaml").read_text())
    config["environment"]["pass_env"] = ["MY_SETTING", "TEAM_*"]
    (project / "mlci.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    secrets = {
        "GITHUB_TOKEN": "ghs_never-to-be-seen-1",
        "INPUT_REGISTRY-PASSWORD": "never-to-be-seen-2",
        "MLCI_REGISTRY_PASSWORD": "never-to-be-seen-3",
        "ACTIONS_RUNTIME_TOKEN": "never-to-be-seen-4",
        "AWS_SECRET_ACCESS_KEY": "never-to-be-seen-5",
        "DOCKER_AUTH_CONFIG": "never-to-be-seen-6",
    }
    passed = {"MY_SETTING": "visible-1", "TEAM_REGION": "visible-2"}
    done = mlci("run", str(project), env={**secrets, **passed, "MLCI_EXECUTOR": executor})
    assert done.returncode == 0, done.stderr
    log = (project / ".mlci" / "out" / "logs" / "train-candidate.log").read_text()
    seen = json.loads(log.split("ENV-DUMP ", 1)[1].splitlines()[0])
    assert not set(secrets) & set(seen)
    assert {k: seen.get(k) for k in passed} == passed
    assert seen["MLCI_TARGET"] == "diagnosis" and "PATH" in seen
    everything = "".join(p.read_text() for p in (project / ".mlci" / "out").rglob("*.log"))
    assert not [value for value in secrets.values() if value in everything]
    assert read_run(project)["environment"]["executor"] == executor
