"""``vmaf_tiny.fsutil.atomic_path``: all or nothing, directories it made included."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmaf_tiny.fsutil import atomic_path


def test_a_failed_write_leaves_no_file_and_no_directory_it_made(tmp_path: Path) -> None:
    dest = tmp_path / "new" / "sub" / "out.mkv"
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("encoder died")
    assert list(tmp_path.iterdir()) == []


def test_directories_that_existed_or_gained_files_stay(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    dest = tmp_path / "old" / "new" / "out.y4m"
    with pytest.raises(KeyboardInterrupt), atomic_path(dest):
        (tmp_path / "old" / "new" / "other.txt").write_text("someone else's")
        raise KeyboardInterrupt
    assert sorted(p.name for p in (tmp_path / "old" / "new").iterdir()) == ["other.txt"]


def test_a_good_write_lands_in_the_directories_it_made(tmp_path: Path) -> None:
    dest = tmp_path / "a" / "b" / "out.txt"
    with atomic_path(dest) as tmp:
        tmp.write_text("done")
    assert dest.read_text() == "done"
    assert [p.name for p in dest.parent.iterdir()] == ["out.txt"]
