"""Committing each run as it lands (`campaign run --commit`): the run folder the campaign just published into
the record is committed alone, in the git repository that holds it, with a message that says what the run is.

`git add <run folder>` then `git commit -m <message> -- <run folder>`: a commit restricted to those paths
takes nothing else, even when other changes are staged. It runs in the campaign's own process, where the
outcomes are collected, never inside a job. A commit that fails leaves the published run where it is (it
counts all the same) and says why in the outcome.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from fer_lib.config import run_fold
from fer_lib.runs.store import MANIFEST, stored_config

GIT_TIMEOUT_S = 120
LOCK_TRIES = 5      # a held index.lock: another git command in the record's checkout
LOCK_WAIT_S = 2.0   # waited out for 2, 4, 6, 8 s


class CommitError(RuntimeError):
    """git refused or failed; the run stays published, uncommitted."""


def _pct(metrics: dict, split: str) -> str:
    value = (metrics.get(split) or {}).get("accuracy")
    return "n/a" if value is None else f"{100 * float(value):.2f}"


def _number(value, fmt: str) -> str:
    return "n/a" if value is None else format(float(value), fmt)


def commit_message(run_dir: Path) -> str:
    """'<experiment> seed <s>, <epochs> epochs (best <b>): val <v>, test <t>, <img/s> img/s, <wall>, <device>,
    <precision>' from the run's manifest and metrics, then the run id and the code's commit."""
    run_dir = Path(run_dir)
    m = json.loads((run_dir / MANIFEST).read_text())
    metrics_file = run_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    wall_s = m.get("wall_s")
    wall = "n/a" if wall_s is None else (f"{wall_s / 3600:.1f} h" if wall_s >= 5400 else f"{wall_s / 60:.0f} min")
    fold_number = run_fold(stored_config(m)) if isinstance(m.get("config"), dict) else None
    fold = "" if fold_number is None else f" fold {fold_number}"
    stop = ", stopped early" if m.get("stopped_early") else ""
    head = (f"{m.get('experiment')} seed {m.get('seed')}{fold}: {m.get('epochs_run')} epochs (best {m.get('best_epoch')}"
            f"{stop}), val {_pct(metrics, 'val')}, test {_pct(metrics, 'test')}, "
            f"{_number(m.get('train_img_per_s'), '.0f')} img/s, {wall}, {m.get('device')}, {m.get('precision')}")
    git = m.get("git") or {}
    body = [f"run {m.get('run_id')} ({m.get('profile')} profile), trained at commit {git.get('commit')}"
            f"{' (dirty)' if git.get('dirty') else ''}; median 1-minute load {m.get('load_1m_median', 'n/a')}",
            "Published by `campaign run --commit`."]
    return head + "\n\n" + "\n".join(body) + "\n"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        said = " ".join(line.strip() for line in lines[:3]) or "no message"
        raise CommitError(f"git {args[0]} (exit {done.returncode}): {said[:400]}")
    return done.stdout.strip()


def commit_run(run_dir: str | Path) -> str:
    """Commit exactly `run_dir` in the repository that holds it; the new commit's short hash.

    Refused (CommitError) on a detached HEAD or mid-merge/rebase (a commit there is easily lost) and for a git-ignored
    folder (a pipeline check under scratch/); a commit that fails leaves nothing staged. A held index lock (someone
    committing in that checkout) is waited out for a few tries."""
    run_dir = Path(run_dir).resolve()
    try:
        message = commit_message(run_dir)
        top = Path(_git(run_dir, "rev-parse", "--show-toplevel"))
        relative = str(run_dir.relative_to(top.resolve()))
        _check_committable(top, relative)
        _with_lock_retries(top, "add", "--", relative)
        try:
            _with_lock_retries(top, "commit", "--quiet", "-m", message, "--", relative)
        except CommitError:
            subprocess.run(["git", "-C", str(top), "reset", "-q", "--", relative], capture_output=True,
                           timeout=GIT_TIMEOUT_S)
            raise
        return _git(top, "rev-parse", "--short", "HEAD")
    except (OSError, ValueError, KeyError, TypeError, subprocess.TimeoutExpired) as err:  # JSONDecodeError: a ValueError
        raise CommitError(f"{type(err).__name__}: {err}") from None


def _check_committable(top: Path, relative: str) -> None:
    if subprocess.run(["git", "-C", str(top), "check-ignore", "-q", "--", relative], capture_output=True,
                      timeout=GIT_TIMEOUT_S).returncode == 0:
        raise CommitError(f"{relative} is ignored by git (not part of the record)")
    if subprocess.run(["git", "-C", str(top), "symbolic-ref", "-q", "HEAD"], capture_output=True,
                      timeout=GIT_TIMEOUT_S).returncode != 0:
        raise CommitError(f"{top} has a detached HEAD: check out the record's branch")
    git_dir = Path(_git(top, "rev-parse", "--absolute-git-dir"))
    busy = [name for name in ("MERGE_HEAD", "rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD") if (git_dir / name).exists()]
    if busy:
        raise CommitError(f"{top} is in the middle of a merge or rebase ({', '.join(busy)}): finish it first")


def _with_lock_retries(top: Path, *args: str, tries: int = LOCK_TRIES) -> str:
    for attempt in range(tries):
        try:
            return _git(top, *args)
        except CommitError as err:
            if "index.lock" not in str(err) or attempt == tries - 1:
                raise
            time.sleep(LOCK_WAIT_S * (attempt + 1))
    raise CommitError("unreachable")


def commit_outcome(run_dir: str | Path | None) -> str:
    """The line an outcome's detail gets: 'committed <hash>', or why the commit failed (the run stays)."""
    if not run_dir:
        return "not committed: the job returned no run folder"
    try:
        return f"committed {commit_run(run_dir)}"
    except CommitError as err:
        return f"commit failed, run kept uncommitted at {run_dir}: {err}"
