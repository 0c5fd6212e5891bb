"""``vmaf_tiny.fsutil.OutputLock``: one writer per output, holder named, stale locks taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from vmaf_tiny.fsutil import OutputLock, OutputLockedError

HOLD = """
import sys, time
from vmaf_tiny.fsutil import OutputLock
with OutputLock(sys.argv[1], command="holder", directory=False):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    out = tmp_path / "f.parquet"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(OutputLockedError) as info:
            OutputLock(out, command="second", directory=False).acquire()
        msg = str(info.value)
        assert f"is being built by pid {proc.pid} on host" in msg and "holder" in msg
        assert str(tmp_path / ".f.parquet.lock") in msg and "\n" not in msg
        assert info.value.exit_code == 2
    finally:
        proc.kill()
        proc.wait()
    # The holder died without cleaning up: its lock file stays, unlocked, and is taken over.
    lock_file = tmp_path / ".f.parquet.lock"
    assert json.loads(lock_file.read_text())["pid"] == proc.pid
    notes: list[str] = []
    with OutputLock(out, command="third", directory=False, warn=notes.append) as lock:
        assert lock.stale_holder is not None and lock.stale_holder["pid"] == proc.pid
        assert json.loads(lock_file.read_text())["pid"] == os.getpid()
    assert len(notes) == 1 and f"left by pid {proc.pid}" in notes[0]
    assert not lock_file.exists()


# Takes the flock the way a winning OutputLock does, but writes its info only after a pause:
# the moment a loser of a simultaneous start used to see ("pid ? on host ?").
LATE_WRITER = """
import fcntl, json, os, socket, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("locked", flush=True)
time.sleep(0.4)
info = {"pid": os.getpid(), "host": socket.gethostname(), "started": "now", "command": "late"}
os.lseek(fd, 0, os.SEEK_SET)
data = json.dumps(info).encode()
os.write(fd, data)
os.ftruncate(fd, len(data))
time.sleep(60)
"""


@pytest.mark.parametrize("previous", ["empty", "dead holder"])
def test_loser_of_a_simultaneous_start_names_the_live_holder(tmp_path: Path, previous: str) -> None:
    lock_file = tmp_path / ".lock"
    if previous == "dead holder":  # a stale lock being taken over: names a pid that is gone
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        lock_file.write_text(
            json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "command": "x"})
        )
    proc = subprocess.Popen(
        [sys.executable, "-c", LATE_WRITER, str(lock_file)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(OutputLockedError) as info:
            OutputLock(tmp_path, command="second", directory=True).acquire()
        msg = str(info.value)
        assert f"is being built by pid {proc.pid} on host" in msg and "late" in msg, msg
        assert "?" not in msg, msg
    finally:
        proc.kill()
        proc.wait()


def test_lock_is_reusable_after_release(tmp_path: Path) -> None:
    notes: list[str] = []
    for _ in range(2):
        with OutputLock(tmp_path, command="build", directory=True, warn=notes.append):
            assert (tmp_path / ".lock").exists()
    assert notes == [] and not (tmp_path / ".lock").exists()
