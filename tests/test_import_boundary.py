"""The runtime must stay light: importing vmaf_tiny never pulls torch, pyarrow or dask."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "pyarrow", "dask", "distributed", "sklearn", "scipy", "matplotlib", "vmaf_train")


def test_runtime_import_does_not_pull_training_stack() -> None:
    code = (
        "import json, sys, vmaf_tiny, vmaf_tiny.cli;"
        "print(json.dumps(sorted(m for m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    mods = set(json.loads(out.stdout))
    leaked = sorted(m for m in mods if m.split(".")[0] in HEAVY)
    assert not leaked, f"vmaf_tiny imported {leaked}"
