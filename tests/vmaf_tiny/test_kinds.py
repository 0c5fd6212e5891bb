"""One dispatch by sidecar kind: every shipped model maps to one runtime path, and a model of the
wrong kind is refused with the one message (and error type) of its entry point."""

from __future__ import annotations

import json

import pytest

from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.kinds import PATHS, require_kind, runtime_path
from vmaf_tiny.registry import load_registry


def test_every_shipped_model_has_one_runtime_path() -> None:
    reg = load_registry()
    paths = {}
    for row in reg.rows:
        sidecar = json.loads((reg.zoo / row["sidecar"]).read_text(encoding="utf-8"))
        path = runtime_path(sidecar)
        assert path is not None and PATHS[path] == row["kind"], (row["id"], path)
        paths[row["id"]] = path
    assert paths["vmaf_tiny_v2"] == "features" and paths["nr_metric_v1"] == "nr"
    assert paths["dists_sq_placeholder_v0"] == "frame_pair"  # FR over luma frames
    assert paths["learned_filter_v1"] == "filter" and paths["saliency_student_v1"] == "saliency"
    assert runtime_path({"kind": "unknown", "inputs": []}) is None


@pytest.mark.parametrize(
    ("kind", "wanted", "error", "message"),
    [
        ("nr", "fr", BadInputError, "model m is kind 'nr'; use --no-reference for NR models"),
        ("filter", "fr", BadInputError, "model m is kind 'filter', not a full-reference model"),
        ("fr", "nr", BadInputError, "model m is kind 'fr'; --no-reference needs NR"),
        ("nr", "filter", BadModelError, "model m is kind 'nr', not a filter"),
        ("filter", "saliency", BadModelError, "model m is kind 'filter', not a saliency model"),
    ],
)
def test_a_wrong_kind_is_refused_in_one_message(
    kind: str, wanted: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as exc:
        require_kind(kind, "m", wanted)
    assert str(exc.value) == message and type(exc.value) is error
    require_kind(wanted, "m", wanted)  # the right kind passes
