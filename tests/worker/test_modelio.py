from __future__ import annotations

import pickle
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mlci_action.errors import StageFailure
from mlci_action.worker.modelio import is_auto_trusted, load_model, save_model

X, Y = make_classification(n_samples=80, n_features=4, random_state=0)


def test_a_sklearn_pipeline_round_trips_without_listing_types(tmp_path: Path) -> None:
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5, random_state=0))
    model.fit(X, Y)
    path = save_model(model, tmp_path / "models" / "model.skops")
    # skops 0.16 reports scikit-learn internals (the tree) as untrusted; the policy trusts them
    assert "sklearn.tree._tree.Tree" in skops.io.get_untrusted_types(file=path)
    loaded = load_model(path, trusted_types=[])
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))  # type: ignore[attr-defined]
    assert [p.name for p in path.parent.iterdir()] == ["model.skops"]  # no temp file left


def test_hist_gradient_boosting_loads(tmp_path: Path) -> None:
    model = HistGradientBoostingClassifier(max_iter=5).fit(X, Y)
    loaded = load_model(save_model(model, tmp_path / "m.skops"), trusted_types=[])
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))  # type: ignore[attr-defined]


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module of the project's own, holding a class whose loading leaves a trace."""
    name = f"mlci_user_{tmp_path.name.replace('-', '_')}"
    marker = tmp_path / "constructed.txt"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path

            class Evil:
                def __init__(self):
                    self.payload = "x"

                def __setstate__(self, state):
                    Path({str(marker)!r}).write_text("ran")
                    self.__dict__.update(state)

                def predict(self, X):
                    return [0] * len(X)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_a_custom_class_is_refused(tmp_path: Path, user_module: str) -> None:
    module = __import__(user_module)
    path = save_model(make_pipeline(StandardScaler(), module.Evil()), tmp_path / "evil.skops")
    with pytest.raises(StageFailure) as caught:
        load_model(path, trusted_types=[])
    assert f"{user_module}.Evil" in caught.value.message
    assert str(path) in caught.value.message
    assert "evaluation.trusted_types" in (caught.value.hint or "")
    assert not (tmp_path / "constructed.txt").exists()  # nothing of the class ran


def test_a_listed_custom_class_loads(tmp_path: Path, user_module: str) -> None:
    module = __import__(user_module)
    path = save_model(module.Evil(), tmp_path / "evil.skops")
    loaded = load_model(path, trusted_types=[f"{user_module}.Evil"])
    assert type(loaded).__name__ == "Evil"
    assert (tmp_path / "constructed.txt").exists()  # the trace the refused load must not leave


def test_builtin_functions_are_not_trusted_automatically(tmp_path: Path) -> None:
    path = save_model(FunctionTransformer(func=len), tmp_path / "f.skops")
    with pytest.raises(StageFailure, match=r"builtins\.len"):
        load_model(path, trusted_types=[])
    assert load_model(path, trusted_types=["builtins.len"]) is not None


@pytest.mark.parametrize(
    ("name", "trusted"),
    [
        ("sklearn.tree._tree.Tree", True),
        ("numpy.dtype", True),
        ("scipy.sparse._csr.csr_matrix", True),
        ("builtins.slice", True),
        ("builtins.eval", False),
        ("builtins.exec", False),
        ("numpyx.Thing", False),
        ("sklearn_extra.Thing", False),
        ("mymod.Evil", False),
    ],
)
def test_auto_trust(name: str, trusted: bool) -> None:
    assert is_auto_trusted(name) is trusted


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StageFailure, match="model file not found") as caught:
        load_model(tmp_path / "nope.skops", trusted_types=[])
    assert "nope.skops" in caught.value.message


def test_a_text_file_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    path.write_text("not a model")
    with pytest.raises(StageFailure, match="cannot read the model file as skops") as caught:
        load_model(path, trusted_types=[])
    assert str(path) in caught.value.message


def test_a_pickle_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(RandomForestClassifier(n_estimators=2).fit(X, Y)))
    with pytest.raises(StageFailure) as caught:
        load_model(path, trusted_types=[])
    assert "pickle" in (caught.value.hint or "")


@pytest.mark.parametrize("damage", ["truncated", "no-schema", "bad-json"])
def test_a_damaged_file_is_refused(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "model.skops"
    if damage == "truncated":
        save_model(RandomForestClassifier(n_estimators=2).fit(X, Y), path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        with zipfile.ZipFile(path, "w") as archive:
            if damage == "bad-json":
                archive.writestr("schema.json", "{not json")
            else:
                archive.writestr("other.txt", "x")
    with pytest.raises(StageFailure, match="cannot read the model file as skops"):
        load_model(path, trusted_types=[])
