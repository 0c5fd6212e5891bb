"""The command-line error contract the tests hold every CLI to."""

from __future__ import annotations

import subprocess


def one_line_error(
    proc: subprocess.CompletedProcess[str], *fragments: str, alone: bool = False
) -> str:
    """Assert exit 2, exactly one ``error: `` line on stderr holding every fragment, and no
    traceback; with ``alone``, also nothing else on stderr and nothing on stdout. Returns the line.
    """
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    if alone:
        assert lines == errors and proc.stdout == "", (proc.stdout, proc.stderr)
    for f in fragments:
        assert f in errors[0], errors[0]
    return errors[0]
