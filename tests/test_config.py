"""mlci.yaml: parsed once at entry; every problem names the file, the line and the field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mlci_action.cli import main
from mlci_action.config import json_schema, load_config
from mlci_action.errors import ConfigError

VALID = """\
version: 1
name: demo
data:
  train: train.csv
  test: test.csv
  target: y
training:
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  task: classification
  metrics: [accuracy]
gates:
  accuracy: {threshold: 0.8}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "mlci.yaml").write_text(textwrap.dedent(text))
    return tmp_path


def error_of(project: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(project)
    return str(info.value)


def test_valid_config_is_typed_and_frozen(tmp_path):
    config = load_config(write(tmp_path, VALID))
    assert config.name == "demo"
    assert config.evaluation.metric_names == ("accuracy",)
    assert config.gates["accuracy"].threshold == 0.8
    assert config.environment.executor == "auto"
    with pytest.raises(ValueError):
        config.name = "other"  # type: ignore[misc]


def test_missing_config(tmp_path):
    message = error_of(tmp_path)
    assert "no mlci.yaml" in message and "mlci init" in message


def test_not_yaml_names_the_line(tmp_path):
    message = error_of(write(tmp_path, VALID + "data: [unclosed\n  x: {\n"))
    assert "not valid YAML" in message
    assert "mlci.yaml:" in message


def test_not_a_mapping(tmp_path):
    assert "expected a mapping" in error_of(write(tmp_path, "- just\n- a list\n"))


def test_unknown_key_names_line_field_and_choices(tmp_path):
    text = VALID.replace("  target: y\n", "  target: y\n  tagret: z\n")
    message = error_of(write(tmp_path, text))
    assert "mlci.yaml:7: data.tagret: unknown key" in message
    assert "expected one of: train, test, target, schema, checks" in message


def test_wrong_type_names_line_field_and_value(tmp_path):
    text = VALID.replace("{threshold: 0.8}", "{threshold: high}")
    message = error_of(write(tmp_path, text))
    assert "mlci.yaml:13: gates.accuracy.threshold" in message
    assert "'high'" in message


def test_missing_required_key(tmp_path):
    message = error_of(write(tmp_path, VALID.replace("  target: y\n", "")))
    assert "data.target: required key is missing" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("metrics: [accuracy]", "metrics: [acuracy]", "unknown metric 'acuracy'"),
        ("metrics: [accuracy]", "metrics: [rmse]", "metric 'rmse' is for regression"),
        ("gates:\n  accuracy:", "gates:\n  f1:", "gate 'f1' names a metric that is not evaluated"),
        (
            "  estimator: sklearn.linear_model.LogisticRegression",
            "  params: {}",
            "exactly one of 'command' or 'estimator'",
        ),
        ("name: demo", "name: Not A Name", "name"),
        ("train: train.csv", "train: train.csv\n  schema: schema.py", "must name its class"),
    ],
)
def test_semantic_errors(tmp_path, old, new, expected):
    assert expected in error_of(write(tmp_path, VALID.replace(old, new)))


def test_cli_exit_code_2_and_message_without_traceback(tmp_path, capsys):
    write(tmp_path, VALID.replace("{threshold: 0.8}", "{threshold: [1]}"))
    assert main(["validate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "gates.accuracy.threshold" in err and "Traceback" not in err


def test_json_schema_covers_the_config(capsys):
    schema = json_schema()
    assert {"name", "data", "training", "evaluation", "gates"} <= set(schema["properties"])
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "mlci.yaml"
    assert "schema" in printed["$defs"]["Data"]["properties"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "{threshold: 0.8}",
            "{threshold: 0.8, max_regresion: 0.01}",
            "gates.accuracy.max_regresion: unknown key; did you mean 'max_regression'?",
        ),
        (
            "  target: y\n",
            "  target: y\n  checks:\n    leakge: {max_rows: 1}\n",
            "data.checks.leakge: unknown key; did you mean 'leakage'?",
        ),
        (
            "  metrics: [accuracy]",
            "  metrics: [accuracy]\n  metrcs: [f1]",
            "evaluation.metrcs: unknown key; did you mean 'metrics'?",
        ),
        ("evaluation:", "evaluaton:", "evaluaton: unknown key; did you mean 'evaluation'?"),
        (
            "metrics: [accuracy]",
            "metrics: [acuracy]",
            "unknown metric 'acuracy'; did you mean 'accuracy'? known for classification",
        ),
        (
            "metrics: [accuracy]",
            "metrics: [accuracy, average_precison]",
            "did you mean 'average_precision'?",
        ),
        (
            "gates:\n  accuracy:",
            "gates:\n  acuracy:",
            "gate 'acuracy' names a metric that is not evaluated; did you mean 'accuracy'?",
        ),
    ],
)
def test_a_misspelt_key_or_name_gets_the_closest_valid_one(tmp_path, old, new, expected):
    text = VALID.replace(old, new)
    assert text != VALID
    assert expected in error_of(write(tmp_path, text))


def test_an_unknown_key_far_from_any_valid_one_gets_the_choices_only(tmp_path):
    message = error_of(write(tmp_path, VALID.replace("{threshold: 0.8}", "{xyzzy: 1}")))
    assert "gates.accuracy.xyzzy: unknown key; expected one of: threshold," in message
    assert "did you mean" not in message


def test_positive_class_is_for_classification(tmp_path):
    def with_positive(text: str, value: str) -> str:
        return text.replace("]\ngates:", f"]\n  positive_class: {value}\ngates:")

    config = load_config(write(tmp_path, with_positive(VALID, "bought")))
    assert config.evaluation.positive_class == "bought"
    yaml_bool = load_config(write(tmp_path, with_positive(VALID, "yes")))
    assert yaml_bool.evaluation.positive_class is True  # YAML 1.1; matched to a 'yes' label later
    regression = (
        VALID.replace("task: classification", "task: regression")
        .replace("[accuracy]", "[rmse]")
        .replace("  accuracy: {threshold: 0.8}", "  rmse: {threshold: 0.8}")
    )
    message = error_of(write(tmp_path, with_positive(regression, "1")))
    assert "evaluation: positive_class is for classification" in message
