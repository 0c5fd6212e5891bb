"""What the guard reports: each check, the report of one model, and the model that passed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import BadModelError

__all__ = ["Check", "CheckReport", "GuardedModel", "Recorder"]


@dataclass(frozen=True)
class Check:
    """One load-time check.

    Attributes:
        name: Short name (``regular_file``, ``operators``, ...).
        status: ``pass``, ``fail``, ``warn`` or ``skip`` (an earlier failure made it moot).
        detail: One line saying what was found.
    """

    name: str
    status: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "warn", "skip")

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass
class CheckReport:
    """Every check run on one model, in order.

    Attributes:
        path: The model file.
        sidecar_path: The sidecar checked (None if none was found).
        checks: The checks, in the order they ran.
    """

    path: Path
    sidecar_path: Path | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings and skips allowed)."""
        return all(c.status != "fail" for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def warnings(self) -> list[str]:
        return [c.detail for c in self.checks if c.status == "warn"]

    def raise_if_failed(self) -> None:
        """Raise BadModelError naming the first failed check."""
        if self.failures:
            first = self.failures[0]
            raise BadModelError(f"{self.path.name}: {first.name}: {first.detail}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sidecar": str(self.sidecar_path) if self.sidecar_path else None,
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class GuardedModel:
    """A model that passed every check, held in memory.

    Attributes:
        path: The model file as given.
        model_bytes: The serialized model for ONNX Runtime (external data inlined).
        sha256: sha256 of the .onnx file's bytes as read.
        total_bytes: The .onnx file plus its external data.
        sidecar: The validated sidecar.
        sidecar_path: Where it came from.
        opset: The default-domain opset.
        report: The checks that ran.
    """

    path: Path
    model_bytes: bytes
    sha256: str
    total_bytes: int
    sidecar: dict[str, Any]
    sidecar_path: Path
    opset: int
    report: CheckReport

    @property
    def warnings(self) -> list[str]:
        return self.report.warnings


class Recorder:
    """Collects checks; in strict mode the first failure raises BadModelError."""

    def __init__(self, report: CheckReport, strict: bool) -> None:
        self.report = report
        self.strict = strict

    def add(self, name: str, status: str, detail: str) -> None:
        detail = " ".join(detail.split())  # one line, no terminal control characters
        detail = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in detail)[:400]
        self.report.checks.append(Check(name, status, detail))
        if status == "fail" and self.strict:
            self.report.raise_if_failed()

    def ok(self, name: str, detail: str) -> None:
        self.add(name, "pass", detail)

    def fail(self, name: str, detail: str) -> None:
        self.add(name, "fail", detail)

    def skip(self, names: tuple[str, ...], why: str) -> None:
        for n in names:
            self.add(n, "skip", why)
