"""One conformance suite for every shipped model (in the spirit of scikit-learn's
``parametrize_with_checks``): each registry row goes through the same checks, so a new model
kind cannot skip one.

For every row of the shipped registry:

* the load-time guard passes (allowlist, size class, sidecar vs graph) and the ONNX Runtime
  session loads by id, with the registry's sha256;
* the session's inputs and outputs are the sidecar's (names, ranks, fixed dimensions, dtypes);
* a short real run through the public entry point of its kind gives finite values in the
  declared range: FR and two-input models score a generated pair, NR models score the distorted
  clip alone, filters write a filtered clip, saliency models write maps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vmaf_tiny.guard import check_model
from vmaf_tiny.registry import load_registry, shipped_zoo
from vmaf_tiny.session import load_model

ROWS = load_registry(shipped_zoo()).rows
IDS = [row["id"] for row in ROWS]
ORT_DTYPES = {"float32": "tensor(float)", "int64": "tensor(int64)", "float16": "tensor(float16)"}


def _sidecar(mid: str) -> dict:
    row = next(r for r in ROWS if r["id"] == mid)
    return json.loads((shipped_zoo() / row["sidecar"]).read_text())


def test_the_suite_covers_every_kind_in_the_zoo() -> None:
    kinds = {_sidecar(mid)["kind"] for mid in IDS}
    assert kinds <= {"fr", "nr", "filter", "saliency"}, kinds
    assert {"fr", "nr", "filter", "saliency"} <= kinds


@pytest.mark.parametrize("mid", IDS)
def test_guard_passes(mid: str) -> None:
    row = next(r for r in ROWS if r["id"] == mid)
    report = check_model(shipped_zoo() / row["onnx"])
    assert report.ok, report


@pytest.mark.parametrize("mid", IDS)
def test_session_matches_sidecar(mid: str) -> None:
    lm = load_model(mid, backend="cpu")
    side = _sidecar(mid)
    assert lm.kind == side["kind"]
    got_in = {i.name: i for i in lm.session.get_inputs()}
    got_out = {o.name: o for o in lm.session.get_outputs()}
    for declared, got in ((side["inputs"], got_in), (side["outputs"], got_out)):
        assert [t["name"] for t in declared] == list(got), (declared, list(got))
        for t in declared:
            g = got[t["name"]]
            assert len(g.shape) == len(t["shape"])
            for want, have in zip(t["shape"], g.shape, strict=True):
                if isinstance(want, int):
                    assert have == want, (t["name"], t["shape"], g.shape)
            assert g.type == ORT_DTYPES[t["dtype"]]


@pytest.mark.parametrize("mid", IDS)
def test_short_run_is_finite_and_in_range(mid: str, runtime_clips, tmp_path: Path) -> None:
    side = _sidecar(mid)
    kind = side["kind"]
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    if kind in ("fr", "nr"):
        if kind == "fr":
            from vmaf_tiny.scoring import score

            res = score(ref, dis, mid, backend="cpu")
        else:
            from vmaf_tiny.nr import score_nr

            res = score_nr(dis, mid, backend="cpu")
        frames = np.asarray(res.frames, dtype=np.float64)
        # a fast-path model scores every k-th frame (its sidecar's fast block)
        step = int((side.get("fast") or {}).get("subsample", 1))
        assert frames.size == len(range(0, 12, step)) and np.isfinite(frames).all()
        lo, hi = (side.get("output") or {}).get("range", [-np.inf, np.inf])
        margin = 0.25 * (hi - lo) if np.isfinite(hi - lo) else 0.0
        assert (frames >= lo - margin).all() and (frames <= hi + margin).all(), frames
        assert np.isfinite(list(res.pooled.values())).all()
    elif kind == "filter":
        from vmaf_tiny.filtering import filter_video, load_filter
        from vmaf_tiny.video import read_luma

        runner, _ = load_filter(mid, backend="cpu")
        out = tmp_path / "filtered.y4m"
        res = filter_video(dis, out, runner, max_frames=3)
        assert res.n_frames == 3 and out.is_file()
        assert np.isfinite([res.mean_shift, res.mean_abs_change]).all()
        assert 0.0 <= res.clip_fraction < 0.5
        luma = np.stack(list(read_luma(out)))
        assert luma.shape == (3, 90, 160) and np.isfinite(luma).all()
        assert luma.min() >= 0.0 and luma.max() <= 1.0 and luma.std() > 0.01  # a picture
    else:
        from vmaf_tiny.saliency import load_saliency, saliency_maps

        runner, lm = load_saliency(mid, backend="cpu")
        res = saliency_maps(dis, tmp_path / "maps", runner, frame=lm.sidecar["frame"], max_frames=3)
        assert res.n_frames == 3 and len(res.files) == 3
        assert all((tmp_path / "maps" / f).is_file() for f in res.files)
        assert 0.0 <= res.mean_saliency <= 1.0


@pytest.mark.parametrize("mid", [m for m in IDS if _sidecar(m).get("gate")])
def test_a_filter_gate_names_a_shipped_stream_nr_model(mid: str) -> None:
    from vmaf_tiny.nr_stream import is_stream_model

    gate = _sidecar(mid)["gate"]
    assert gate["model"] in IDS, gate
    assert is_stream_model(load_model(gate["model"], backend="cpu"))
