"""The positive class of binary metrics: configured, obvious from the labels, or refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlci_action.errors import InputError
from mlci_action.worker.positive import resolve_positive


@pytest.mark.parametrize(
    ("labels", "positive"),
    [
        ([0, 1, 1, 0], 1),
        ([-1, 1], 1),
        ([0.0, 1.0, np.nan], 1.0),
        ([True, False], True),
        (["no", "yes"], "yes"),
        (["No", "Yes"], "Yes"),
        (["false", "TRUE"], "TRUE"),
        (["negative", "positive"], "positive"),
        (["0", "1"], "1"),
    ],
)
def test_an_obvious_positive_class(labels: list, positive: object) -> None:
    found = resolve_positive(pd.Series(labels), None)
    assert found == positive and type(found) is type(positive)


@pytest.mark.parametrize(
    "labels", [["bought", "not_bought"], [1, 2], ["M", "B"], ["yes", "true"], ["a", "b", "c"]]
)
def test_labels_without_an_obvious_positive_class(labels: list) -> None:
    with pytest.raises(InputError) as caught:
        resolve_positive(labels, None)
    error = caught.value
    assert "give no obvious positive class" in error.message
    assert repr(sorted(labels, key=str)[0]) in error.message
    assert "set evaluation.positive_class in mlci.yaml" in (error.hint or "")


def test_the_message_names_the_labels() -> None:
    with pytest.raises(InputError, match="labels 'bought' and 'not_bought' give no obvious"):
        resolve_positive(np.array(["not_bought", "bought", "bought"], dtype=object), None)


@pytest.mark.parametrize(
    ("labels", "configured", "positive"),
    [
        (["bought", "not_bought"], "bought", "bought"),
        (["bought", "not_bought"], "not_bought", "not_bought"),
        ([0, 1], 0, 0),  # configured beats obvious
        ([1, 2], 2, 2),
        ([1, 2], "2", 2),  # a quoted number names the number
        (["0", "1"], 1, "1"),
        (["no", "yes"], True, "yes"),  # YAML reads an unquoted yes as true
        (["no", "yes"], False, "no"),
        ([True, False], "true", True),
        (["a", "b", "c"], "c", "c"),
    ],
)
def test_a_configured_positive_class(labels: list, configured: object, positive: object) -> None:
    assert resolve_positive(np.asarray(labels), configured) == positive  # type: ignore[arg-type]


def test_a_configured_class_that_is_not_a_label() -> None:
    with pytest.raises(InputError) as caught:
        resolve_positive(["bought", "not_bought"], "Bought")
    message = caught.value.message
    assert "evaluation.positive_class is 'Bought', which is not one of the 2 labels" in message
    assert message.endswith("did you mean 'bought'?")
    # the data's labels are not listed: only one essentially what was typed is suggested
    with pytest.raises(InputError) as far:
        resolve_positive(["bought", "not_bought"], "purchase")
    assert "bought" not in far.value.message


def test_a_configured_value_that_names_two_labels_is_refused() -> None:
    with pytest.raises(InputError, match="matches 2 of the 3 labels") as caught:
        resolve_positive(["yes", "y", "no"], True)  # an unquoted yes in YAML is True
    assert "quote evaluation.positive_class" in (caught.value.hint or "")
