"""One live writer per run directory, and a way for readers to tell a running run from a dead one.

The writer holds an OS file lock on `<run>/run.lock` (released by the kernel when its process dies,
kill -9 included) and keeps `<run>/lock.json` (pid, host, started, heartbeat) fresh from a background
thread. A second writer is refused while the lock is held on this host, or while another host's
heartbeat is fresh (a run folder on a shared file system).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock, Timeout

from fer_lib.outputs import atomic_write_text

LOCK_FILE = "run.lock"
INFO_FILE = "lock.json"
HEARTBEAT_S = 30.0
STALE_S = 180.0  # another host's writer counts as dead when its heartbeat is older than this


class RunBusyError(ValueError):
    """Another live process is writing this run directory."""


def _now() -> float:
    return time.time()


def read_lock_info(run_dir: str | Path) -> dict | None:
    """lock.json of a run (pid, host, started, heartbeat), or None when there is none or it is unreadable."""
    try:
        return json.loads((Path(run_dir) / INFO_FILE).read_text())
    except (OSError, ValueError):
        return None


def _held_here(run_dir: Path) -> bool:
    """Whether some process on this host holds the run's OS lock."""
    probe = FileLock(str(run_dir / LOCK_FILE), timeout=0, thread_local=False)
    try:
        probe.acquire()
    except Timeout:
        return True
    probe.release()
    return False


def writer_alive(run_dir: str | Path) -> bool:
    """True while a live process writes the run (see module docstring); False for a dead or absent one."""
    run_dir = Path(run_dir)
    info = read_lock_info(run_dir)
    if info is None:
        return False
    if info.get("host") == socket.gethostname():
        return (run_dir / LOCK_FILE).exists() and _held_here(run_dir)
    return _now() - float(info.get("heartbeat", 0)) < STALE_S


def describe_writer(info: dict | None) -> str:
    """'pid 123 on host h (heartbeat 12 s ago)' for messages."""
    if not info:
        return "another process"
    age = _now() - float(info.get("heartbeat", 0))
    return f"pid {info.get('pid')} on host {info.get('host')} (heartbeat {age:.0f} s ago)"


class RunLock:
    """Context manager: hold a run directory's writer lock, with a heartbeat, until exit."""

    def __init__(self, run_dir: str | Path, heartbeat_s: float = HEARTBEAT_S):
        self.dir = Path(run_dir)
        self.heartbeat_s = heartbeat_s
        self._lock = FileLock(str(self.dir / LOCK_FILE), timeout=0, thread_local=False)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._info: dict = {}

    def _busy(self) -> RunBusyError:
        return RunBusyError(f"run {self.dir} is being written by {describe_writer(read_lock_info(self.dir))}; "
                            f"wait for it to finish or stop that process before resuming")

    def __enter__(self) -> "RunLock":
        info = read_lock_info(self.dir)
        if info and info.get("host") != socket.gethostname() and writer_alive(self.dir):
            raise self._busy()
        try:
            self._lock.acquire()
        except Timeout:
            raise self._busy() from None
        self._info = {"pid": os.getpid(), "host": socket.gethostname(),
                      "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "heartbeat": _now()}
        self._write()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {self.dir.name}", daemon=True)
        self._thread.start()
        return self

    def _write(self) -> None:
        self._info["heartbeat"] = _now()
        atomic_write_text(self.dir / INFO_FILE, json.dumps(self._info, indent=1) + "\n")

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self._write()
            except OSError:
                pass  # a full or vanished disk must not kill training; the next beat tries again

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        (self.dir / INFO_FILE).unlink(missing_ok=True)
        (self.dir / LOCK_FILE).unlink(missing_ok=True)  # before releasing: nobody can take a stale inode
        self._lock.release()


def clean_temp_files(folder: str | Path, min_age_s: float = 60.0, skip_live: bool = True) -> list[Path]:
    """Remove the temp files that atomic writers leave when killed mid-write (names starting with '.',
    e.g. `.metrics.json.x1y2`, `checkpoints/.last.pt.ab12`, `.curves.png.tmp.png`) under `folder`;
    returns what was removed. Files younger than `min_age_s` (a write may be under way) and files inside a
    run whose writer is alive are kept (unless `skip_live` is False: the caller holds that run's lock),
    and so are `.git*` files."""
    removed = []
    now = _now()
    for path in sorted(Path(folder).rglob(".*")):
        if not path.is_file() or path.name.startswith((".git", ".keep")) or ".ipynb_checkpoints" in path.parts:
            continue
        try:
            if now - path.stat().st_mtime < min_age_s:
                continue
        except OSError:
            continue
        if skip_live and any((parent / INFO_FILE).exists() and writer_alive(parent) for parent in path.parents):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed
