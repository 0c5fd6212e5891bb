"""What an FR model card claims in machine-readable form: the goals of its recipe with the
measured figures, and the Hugging Face front matter (``model-index``) of its test-split and
LOSO results. The card's prose is :mod:`vmaf_train.ship.cards_fr`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vmaf_train.ship.card_parts import fmt, front_matter

__all__ = ["fr_front_matter", "goal_status", "inputs_name", "is_neg", "loso_summary"]


def loso_summary(row: Mapping[str, Any]) -> dict[str, Any] | None:
    loso = (row.get("training") or {}).get("metrics", {}).get("loso")
    return None if not loso else dict(loso.get("summary", {}))


def goal_status(row: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per configured goal: the measured figure and whether it is met."""
    extra = (row.get("training") or {}).get("metrics", {}).get("extra", {})
    goals = extra.get("goals") or {}
    s = loso_summary(row)
    out: list[str] = []

    def verdict(ok: bool | None) -> str:
        return "not measured" if ok is None else ("**met**" if ok else "**not met**")

    if goals.get("loso_plcc_min"):
        v = s.get("plcc_mean") if s else None
        ok = None if v is None else v >= goals["loso_plcc_min"]
        out.append(f"LOSO mean PLCC >= {goals['loso_plcc_min']}: measured {fmt(v)}, {verdict(ok)}")
    if goals.get("loso_rmse_max"):
        v = s.get("rmse_mean") if s else None
        ok = None if v is None else v <= goals["loso_rmse_max"]
        out.append(
            f"LOSO mean RMSE <= {goals['loso_rmse_max']}: measured {fmt(v, 3)}, {verdict(ok)}"
        )
    other_id = goals.get("no_worse_than")
    if other_id:
        other = next((r for r in rows if r.get("id") == other_id), None)
        mine = s.get("rmse_mean") if s else None
        theirs = (loso_summary(other) or {}).get("rmse_mean") if other else None
        ok = None if mine is None or theirs is None else mine <= theirs
        out.append(
            f"LOSO mean RMSE no worse than `{other_id}`: {fmt(mine, 3)} vs {fmt(theirs, 3)}, "
            f"{verdict(ok)}"
        )
    return out


def is_neg(side: Mapping[str, Any]) -> bool:
    return any(str(f).endswith("_egl_1") for f in side.get("feature_order", []))


def inputs_name(side: Mapping[str, Any]) -> str:
    return "NEG-mode features" if is_neg(side) else "canonical-6"


def fr_front_matter(row: Mapping[str, Any], side: Mapping[str, Any]) -> str:
    tr = row.get("training") or {}
    test = tr.get("metrics", {}).get("test", {})
    target = side.get("output", {}).get("target", "vmaf")
    inputs = inputs_name(side)

    def task() -> dict[str, str]:
        return {
            "type": "video-quality-assessment",
            "name": f"Full-reference video quality, per-frame {target} from libvmaf {inputs}",
        }

    def metrics(m: Mapping[str, Any], suffix: str, mean: bool = False) -> list[dict[str, Any]]:
        out = []
        for key, typ, name in (
            ("plcc", "pearsonr", "PLCC"),
            ("srocc", "spearmanr", "SROCC"),
            ("rmse", "rmse", "RMSE"),
        ):
            v = m.get(f"{key}_mean" if mean else key)
            if v is not None:
                out.append({"type": typ, "value": round(float(v), 6), "name": f"{name} {suffix}"})
        return out

    manifest = str(tr.get("corpus_manifest_sha256", "none"))
    results = []
    if test:
        results.append(
            {
                "task": task(),
                "dataset": {
                    "type": "vmaf-tiny-corpus",
                    "name": "vmaf-tiny corpus, test split",
                    "split": "test",
                    "revision": manifest[:16],
                },
                "metrics": metrics(test, "(frame, test split)"),
            }
        )
    s = loso_summary(row)
    if s:
        results.append(
            {
                "task": task(),
                "dataset": {
                    "type": "vmaf-tiny-corpus",
                    "name": f"vmaf-tiny corpus, {s.get('protocol', 'LOSO')}",
                    "split": "loso",
                    "revision": manifest[:16],
                },
                "metrics": metrics(s, "(frame, LOSO mean)", mean=True),
            }
        )
    fm: dict[str, Any] = {
        "license": "other",
        "license_name": str(row.get("license", "")).lower(),
        "library_name": "onnx",
        "tags": ["video-quality", "vmaf", "onnx", "tiny", f"class-{row.get('class')}"],
        "model-index": [{"name": row["id"], "results": results}],
    }
    return front_matter(fm)
