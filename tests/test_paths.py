"""Every path in mlci.yaml stays inside the project directory; errors never show file contents.

The real `mlci` entry point on copies of examples/classification: a path that leads out of the
project (``..``, an absolute path, a symbolic link pointing outside) exits 2 at entry, names
``mlci.yaml:LINE`` and the key, shows nothing of the file it points at, and writes nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from mlci_action.cli import main
from mlci_action.errors import ConfigError
from mlci_action.paths import confined
from mlci_action.yamlfile import load_yaml
from tests.conftest import EXAMPLES

SECRET = "SECRET-CONTENTS-1234"


@pytest.fixture
def project(tmp_path: Path, cache_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/classification at tmp_path/repo, a secret file at tmp_path/outside."""
    monkeypatch.setenv("MLCI_EXECUTOR", "local")  # validate builds the environment, as run does
    project = tmp_path / "repo"
    shutil.copytree(
        EXAMPLES / "classification",
        project,
        ignore=shutil.ignore_patterns(".mlci", "*.skops", "__pycache__"),
    )
    outside = tmp_path / "outside"
    outside.mkdir()
    # valid YAML, a valid "CSV" and a valid requirements line: nothing but the path is wrong
    (outside / "secret.yaml").write_text(f"{SECRET}: 1\n")
    return project


def set_key(project: Path, key: str, value: str) -> int:
    """Write ``value`` at ``key`` into mlci.yaml; return the line it is on."""
    config_file = project / "mlci.yaml"
    document = yaml.safe_load(config_file.read_text())
    if key == "environment.requirements":
        document["environment"]["requirements"] = ["requirements.txt", value]
    else:
        section, name = key.split(".")
        document.setdefault(section, {})[name] = value
    text = yaml.safe_dump(document, sort_keys=False, width=1000)
    config_file.write_text(text)
    return next(n for n, line in enumerate(text.splitlines(), 1) if value in line)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def commands(project: Path) -> dict[str, list[str]]:
    return {
        "validate": ["validate", str(project)],
        "run": ["run", str(project), "--out", str(project.parent / "out")],
    }


KEYS = [
    "data.train",
    "data.test",
    "data.schema",
    "training.params_file",
    "environment.requirements",
    "environment.lock",
    "model_tests.path",
    "deploy.dockerfile",
]


def escape_by(variant: str, project: Path) -> tuple[str, str]:
    """``(value for mlci.yaml, words the message must hold)`` for one way out of the project."""
    outside = project.parent / "outside"
    if variant == "dotdot":
        return "data/../../outside/secret.yaml", "'..' climbs above it"
    if variant == "absolute":
        return str(outside / "secret.yaml"), "is an absolute path"
    if variant == "file-symlink":
        (project / "linked.yaml").symlink_to(outside / "secret.yaml")
        return "linked.yaml", "'linked.yaml' is a symbolic link pointing outside it"
    if variant == "dangling-symlink":  # to a file that does not exist (yet)
        (project / "linked.yaml").symlink_to(outside / "later.yaml")
        return "linked.yaml", "'linked.yaml' is a symbolic link pointing outside it"
    assert variant == "dir-symlink"
    (project / "ext").symlink_to(outside, target_is_directory=True)
    return "ext/secret.yaml", "'ext' is a symbolic link pointing outside it"


def assert_refused(project: Path, code: int, output: str, *words: str) -> None:
    assert code == 2, output
    for word in words:
        assert word in output, output
    assert SECRET not in output
    assert "Traceback" not in output
    assert "keep data, schemas, params, requirements, tests and the Dockerfile inside" in output
    assert not (project / ".mlci").exists()
    assert not (project.parent / "out").exists()


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(
    "variant", ["dotdot", "absolute", "file-symlink", "dangling-symlink", "dir-symlink"]
)
@pytest.mark.parametrize("key", KEYS)
def test_a_path_out_of_the_project_exits_2_and_shows_nothing(
    project, capsys, key, variant, command
):
    value, reason = escape_by(variant, project)
    line = set_key(project, key, value)
    code, output = run_cli(commands(project)[command], capsys)
    assert_refused(project, code, output, f"mlci.yaml:{line}: {key}", reason)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_data_file_replaced_by_a_link_to_a_host_file_is_refused(project, capsys, command):
    """The likely attack: mlci.yaml unchanged, data/train.csv a link to a file on the host."""
    train = project / "data" / "train.csv"
    train.unlink()
    train.symlink_to(project.parent / "outside" / "secret.yaml")
    code, output = run_cli(commands(project)[command], capsys)
    assert_refused(
        project,
        code,
        output,
        "mlci.yaml:5: data.train: 'data/train.csv' leads outside the project directory",
        "'data/train.csv' is a symbolic link",
    )


def test_an_absolute_path_inside_the_project_is_refused_too(project, capsys):
    line = set_key(project, "training.params_file", str(project / "params.yaml"))
    code, output = run_cli(["validate", str(project)], capsys)
    assert_refused(
        project,
        code,
        output,
        f"mlci.yaml:{line}: training.params_file",
        "inside the project here",
        "write it relative to the project directory",
    )


def test_links_inside_the_project_are_accepted(project, capsys):
    data = project / "data"
    (data / "train.csv").rename(data / "real-train.csv")
    (data / "train.csv").symlink_to("real-train.csv")
    (project / "conf").mkdir()
    (project / "params.yaml").rename(project / "conf" / "params.yaml")
    (project / "params.yaml").symlink_to(Path("conf") / "params.yaml")
    (project / "linked").symlink_to("data", target_is_directory=True)
    set_key(project, "data.test", "linked/../data/./test.csv")
    code, output = run_cli(["validate", str(project)], capsys)
    assert code == 0, output
    assert "valid" in output


def test_confined_resolves_inside_and_names_the_line(tmp_path):
    project = tmp_path / "p"
    (project / "sub").mkdir(parents=True)
    (project / "mlci.yaml").write_text(
        "environment:\n  requirements:\n    - a.txt\n    - ../b.txt\n"
    )
    doc = load_yaml(project / "mlci.yaml")
    assert confined(project, "sub/../new/x.txt", "data.train") == project.resolve() / "new/x.txt"
    with pytest.raises(ConfigError) as raised:
        confined(project, "../b.txt", "environment.requirements[1]", doc)
    assert str(raised.value).startswith(
        f"{project / 'mlci.yaml'}:4: environment.requirements[1]: '../b.txt' leads outside"
    )
    # a value the document does not hold (the action changed the config): no line
    with pytest.raises(ConfigError) as raised:
        confined(project, "../c.txt", "environment.requirements[1]", doc)
    assert str(raised.value).startswith(f"{project / 'mlci.yaml'}: environment.requirements[1]")
    (project / "loop").symlink_to("loop")
    with pytest.raises(ConfigError, match="cannot be resolved"):
        confined(project, "loop/x", "data.train")


# --- error messages name file, line and column, never the file's text ----------------------


def test_a_header_without_the_target_is_not_echoed(project, capsys):
    train = project / "data" / "train.csv"
    lines = train.read_text().splitlines(keepends=True)
    columns = lines[0].count(",") + 1
    train.write_text("".join([lines[0].replace("diagnosis", SECRET), *lines[1:]]))
    code, output = run_cli(["validate", str(project)], capsys)
    assert code == 2, output
    assert "train.csv:1: target column 'diagnosis' is not in the header" in output
    assert f"none of its {columns} columns is named 'diagnosis'" in output
    assert SECRET not in output and "mean_radius" not in output
    assert "did you mean" not in output


def test_a_header_with_a_near_miss_suggests_it(project, capsys):
    train = project / "data" / "train.csv"
    train.write_text(train.read_text().replace("diagnosis", "Diagnosis", 1))
    code, output = run_cli(["validate", str(project)], capsys)
    assert code == 2, output
    assert "did you mean 'Diagnosis'?" in output and "mean_radius" not in output


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (f"C: [1.0\n{SECRET}: 2\n", "params.yaml:2:", "expected ',' or ']'"),
        (f"C: *{SECRET}\n", "params.yaml:1:4:", "found undefined alias (text not shown)"),
        (f"- {SECRET}\n", "params.yaml:", "must hold a mapping of parameters (it holds list)"),
    ],
    ids=["syntax", "alias", "not-a-mapping"],
)
def test_a_bad_params_file_is_not_echoed(project, capsys, text, where, problem):
    (project / "params.yaml").write_text(text)
    for args in (["validate", str(project)], commands(project)["run"]):
        code, output = run_cli(args, capsys)
        assert code == 2, output
        assert where in output and problem in output, output
        assert SECRET not in output
        assert not (project.parent / "out").exists()


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        (
            "schema.yaml",
            f"columns:\n  a: [1\n  {SECRET}: 2\n",
            ["schema.yaml:3:", "the schema is not valid YAML", "expected ',' or ']'"],
        ),
        (
            "schema.yaml",
            f"columns: !{SECRET} x\n",
            ["schema.yaml:1:10:", "constructor for the tag (text not shown)"],
        ),
        (
            "schema.py",
            f"x = 1\nclass {SECRET}(:\n",
            ["schema.py:2:", "syntax error in the schema file", "py_compile"],
        ),
        (
            "schema.py",
            f"class Other:\n    note = '{SECRET}'\n",
            ["schema.py: defines no 'BreastCancerSchema'"],
        ),
    ],
    ids=["yaml-syntax", "yaml-tag", "python-syntax", "python-no-class"],
)
def test_a_bad_schema_file_is_not_echoed(project, capsys, name, text, words):
    (project / "schema.py").unlink()
    (project / name).write_text(text)
    if name == "schema.yaml":
        set_key(project, "data.schema", "schema.yaml")
    code, output = run_cli(["validate", str(project)], capsys)
    assert code == 2, output
    for word in words:
        assert word in output, output
    assert SECRET not in output


def test_a_schema_class_that_is_imported_is_left_to_the_import(project, capsys):
    """The entry check only refuses what is certain: a name the file never mentions."""
    (project / "schemas").mkdir()
    (project / "schema.py").rename(project / "schemas" / "real.py")
    (project / "schema.py").write_text("from schemas.real import *  # noqa: F403\n")
    code, output = run_cli(["validate", str(project)], capsys)
    assert code == 0, output
