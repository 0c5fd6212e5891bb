"""Protobuf-aware mutation of real ONNX files and the load-or-refuse loop (the loader fuzzer).

Used by ``tests/vmaf_tiny/test_fuzz_guard.py`` and the script ``benchmarks/fuzz_guard.py``.
"""

from __future__ import annotations

import faulthandler
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tests.support import tiny_models
from vmaf_tiny.errors import BadModelError
from vmaf_tiny.session import load_model


def _varint(buf: bytes, i: int) -> tuple[int, int] | None:
    shift = value = 0
    while i < len(buf) and shift < 70:
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7
    return None


def _enc_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


@dataclass(frozen=True)
class _Field:
    start: int  # first byte of the tag
    end: int  # one past the field's last byte
    tag: bytes
    wire: int
    payload: tuple[int, int]  # payload span (length-delimited: without the length prefix)


def wire_fields(buf: bytes) -> list[_Field] | None:
    """Split a serialized message into its top-level fields; None if it does not parse cleanly."""
    out, i = [], 0
    while i < len(buf):
        start = i
        t = _varint(buf, i)
        if t is None or t[0] >> 3 == 0:
            return None
        key, i = t
        tag, wire = buf[start:i], key & 7
        if wire == 0:
            v = _varint(buf, i)
            if v is None:
                return None
            p0, i = i, v[1]
        elif wire == 1:
            p0, i = i, i + 8
        elif wire == 5:
            p0, i = i, i + 4
        elif wire == 2:
            ln = _varint(buf, i)
            if ln is None:
                return None
            p0, i = ln[1], ln[1] + ln[0]
        else:
            return None
        if i > len(buf):
            return None
        out.append(_Field(start, i, tag, wire, (p0, i)))
    return out


def mutate_message(buf: bytes, rng: random.Random, depth: int = 0) -> bytes | None:
    fields = wire_fields(buf)
    if not fields:
        return None
    nested = [
        f
        for f in fields
        if f.wire == 2 and f.payload[1] > f.payload[0] and wire_fields(buf[slice(*f.payload)])
    ]
    if nested and depth < 10 and rng.random() < 0.75:
        f = rng.choice(nested)
        inner = mutate_message(buf[slice(*f.payload)], rng, depth + 1)
        if inner is not None:
            return buf[: f.start] + f.tag + _enc_varint(len(inner)) + inner + buf[f.end :]
    f = rng.choice(fields)
    whole = buf[f.start : f.end]
    op = rng.choice(("drop", "dup", "swap", "varint"))
    if op == "drop":
        return buf[: f.start] + buf[f.end :]
    if op == "dup":
        return buf[: f.end] + whole + buf[f.end :]
    if op == "swap" and len(fields) > 1:
        g = rng.choice(fields)
        a, b = sorted((f, g), key=lambda x: x.start)
        if a.end <= b.start:
            return (
                buf[: a.start]
                + buf[b.start : b.end]
                + buf[a.end : b.start]
                + buf[a.start : a.end]
                + buf[b.end :]
            )
    if f.wire == 0:
        value = rng.choice((0, 1, 2, 7, 255, 1 << 31, (1 << 63) - 1, rng.getrandbits(64)))
        return buf[: f.start] + f.tag + _enc_varint(value) + buf[f.end :]
    if f.wire == 2:
        # Claim a different length than the payload has.
        n = f.payload[1] - f.payload[0]
        bad = max(0, n + rng.choice((-3, -1, 1, 5, 1 << 20)))
        return buf[: f.start] + f.tag + _enc_varint(bad) + buf[slice(*f.payload)] + buf[f.end :]
    return buf[: f.start] + buf[f.end :]


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One random mutation of serialized bytes: (kind, new bytes)."""
    kind = rng.choices(("flip", "truncate", "insert", "field"), weights=(3, 1, 1, 5))[0]
    if kind == "field":
        out = mutate_message(data, rng)
        if out is not None and out != data:
            return kind, out
        kind = "flip"
    b = bytearray(data)
    if kind == "flip":
        for _ in range(rng.choice((1, 1, 2, 4, 8, 32))):
            i = rng.randrange(len(b))
            b[i] ^= rng.choice((1, 2, 4, 8, 16, 32, 64, 128, rng.randrange(1, 256)))
        return kind, bytes(b)
    if kind == "truncate":
        return kind, bytes(b[: rng.randrange(len(b))])
    i = rng.randrange(len(b) + 1)
    return kind, bytes(b[:i]) + rng.randbytes(rng.choice((1, 2, 8, 64))) + bytes(b[i:])


# ---------------------------------------------------------------------------- cases


@dataclass
class Summary:
    """Outcome counts and the unexpected cases (which must stay empty)."""

    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    max_case_s: float = 0.0
    slowest: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "outcomes": dict(self.outcomes),
            "mutations": dict(self.kinds),
            "unexpected": self.unexpected[:20],
            "n_unexpected": len(self.unexpected),
            "max_case_s": round(self.max_case_s, 4),
            "slowest": self.slowest,
            "seconds": round(self.seconds, 2),
        }


def _sample_feeds(sidecar: dict[str, Any]) -> dict[str, np.ndarray]:
    feeds = {}
    for spec in sidecar["inputs"]:
        shape = [2 if not isinstance(d, int) else d for d in spec["shape"]]
        feeds[spec["name"]] = np.full(shape, 0.5, dtype=np.float32)
    return feeds


def run_cases(
    n_cases: int,
    seed: int = 0,
    timeout_s: float = 10.0,
    work: Path | None = None,
    sidecar_rate: float = 0.1,
) -> Summary:
    """Run ``n_cases`` seeded cases in this process; see the module docstring."""
    own = work is None
    root = Path(tempfile.mkdtemp(prefix="vmaf-tiny-fuzz-")) if own else Path(work)  # type: ignore[arg-type]
    try:
        seeds_dir = root / "seeds"
        seeds = tiny_models.seed_models(seeds_dir)
        originals = []
        for p in seeds:
            case_dir = root / p.stem
            case_dir.mkdir(parents=True, exist_ok=True)
            side = p.with_suffix(".json")
            originals.append(
                (p.read_bytes(), side.read_bytes(), case_dir / p.name, case_dir / side.name)
            )
        summary = Summary()
        t_all = time.perf_counter()
        for i in range(n_cases):
            rng = random.Random(seed * 1_000_003 + i)
            model_bytes, side_bytes, model_path, side_path = originals[i % len(originals)]
            kind, data = mutate(model_bytes, rng)
            side = side_bytes
            if rng.random() < sidecar_rate:
                skind, side = mutate(side_bytes, rng)
                kind = f"{kind}+sidecar_{skind}"
            model_path.write_bytes(data)
            side_path.write_bytes(side)
            summary.kinds[kind.split("+")[0]] += 1
            t0 = time.perf_counter()
            faulthandler.dump_traceback_later(timeout_s, exit=True)
            try:
                lm = load_model(model_path, backend="cpu")
                outcome = "loaded"
                try:
                    lm.run(_sample_feeds(lm.sidecar))
                    outcome = "ran"
                except BadModelError:
                    outcome = "loaded_run_refused"
            except BadModelError as exc:
                outcome = "refused"
                if "\n" in str(exc):
                    summary.unexpected.append({"case": i, "kind": kind, "error": "multi-line"})
            except Exception as exc:  # the thing under test: nothing else may escape
                outcome = "unexpected"
                summary.unexpected.append(
                    {"case": i, "kind": kind, "error": f"{type(exc).__name__}: {exc}"[:300]}
                )
            finally:
                faulthandler.cancel_dump_traceback_later()
            dt = time.perf_counter() - t0
            if dt > summary.max_case_s:
                summary.max_case_s = dt
                summary.slowest = {"case": i, "kind": kind, "outcome": outcome}
            summary.outcomes[outcome] += 1
            summary.cases += 1
        summary.seconds = time.perf_counter() - t_all
        return summary
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)
