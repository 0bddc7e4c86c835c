"""One campaign run as a job an executor can run anywhere: train in a local work folder, then publish.

A job trains into `<work dir>/runs/` (checkpoints stay there), resuming a run of the same (experiment,
seed, fold) that an earlier job left interrupted. Only a complete run is published: its small records
(manifest, history, metrics, predictions, confusion matrices, figures) are copied beside the others under
the campaign's destination (in `<destination>/.staging/`) and renamed into place in one step, so a half-run
is never where runs are counted. A finished result is never replaced: a destination that exists already is an error.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import submitit

from fer_lib.config import load_config, run_fold
from fer_lib.engine.experiment import run_experiment
from fer_lib.engine.resume import ResumeConflict
from fer_lib.engine.runtime import log
from fer_lib.runs.lock import LOCK_FILE
from fer_lib.runs.store import MANIFEST, load_run, stored_config

STAGING = ".staging"  # under a runs folder: records being copied in, never read as runs
CHECKPOINT_LIMIT_MB = 16.0  # a kept checkpoint must fit one returned file of the GPU machine (16 MB)


@dataclass(frozen=True)
class CampaignJob:
    """Train (or resume) one (experiment, seed, fold) at `profile` and publish it to `destination`."""

    experiment: str
    seed: int
    fold: int | None
    profile: str
    destination: str
    work_dir: str
    data_dir: str | None = None
    device: str = "auto"
    keep_checkpoint: bool = False

    @property
    def label(self) -> str:
        fold = "" if self.fold is None else f" fold {self.fold}"
        return f"{self.experiment} seed {self.seed}{fold}"

    def __call__(self) -> dict:
        """Run the job (in the executor's process); a summary of the published run."""
        previous = find_interrupted(Path(self.work_dir) / "runs", self)
        run_dir = None
        if previous is not None:
            try:
                run_dir = run_experiment(None, data_dir=self.data_dir, device=self.device, resume=previous)
            except ResumeConflict as err:  # made at another commit or on other data: start afresh
                log(f"[campaign] not resuming {previous}: {err}")
                previous = None
        if run_dir is None:
            overrides = {"data.fold": self.fold} if self.fold is not None else None
            config = load_config(self.experiment, self.profile, overrides=overrides)
            run_dir = run_experiment(config, data_dir=self.data_dir, seed=self.seed, device=self.device,
                                     out_root=Path(self.work_dir) / "runs")
        published = publish_run(run_dir, Path(self.destination), keep_checkpoint=self.keep_checkpoint)
        manifest = load_run(published).manifest
        return {**asdict(self), "run_dir": str(published), "status": manifest.get("status"),
                "wall_s": manifest.get("wall_s"), "train_img_per_s": manifest.get("train_img_per_s"),
                "device": manifest.get("device"), "resumed": previous is not None}

    def checkpoint(self) -> submitit.helpers.DelayedSubmission:
        """On a time-out or preemption submitit requeues the job; the next attempt resumes the run."""
        return submitit.helpers.DelayedSubmission(self)


def find_interrupted(runs_root: Path, job: CampaignJob) -> Path | None:
    """The newest run of the job's (experiment, seed, fold, profile) under runs_root that did not finish."""
    for manifest_path in sorted((runs_root / job.experiment).glob(f"*-s{job.seed}*/{MANIFEST}"), reverse=True):
        try:
            run = load_run(manifest_path.parent)
        except (OSError, json.JSONDecodeError):
            continue
        m = run.manifest
        if (run.status == "interrupted" and int(m.get("seed", -1)) == job.seed and m.get("profile") == job.profile
                and run_fold(stored_config(m)) == job.fold):
            return run.path
    return None


def publish_run(run_dir: Path, destination: Path, keep_checkpoint: bool = False,
                limit_mb: float = CHECKPOINT_LIMIT_MB) -> Path:
    """Copy a complete run's records (no checkpoints, unless keep_checkpoint and best.pt is under limit_mb)
    to destination/<experiment>/<run id>, atomically; the published path."""
    run = load_run(run_dir)
    if run.status != "complete":
        raise ValueError(f"{run_dir} is {run.status}, not complete: only complete runs are published")
    target = destination / run.manifest["experiment"] / Path(run_dir).name
    if target.exists():
        raise FileExistsError(f"{target} exists already: a finished run is never replaced")
    # Staged one level deeper than runs are looked for (<runs>/<experiment>/<id>), then renamed into place.
    partial = destination / STAGING / run.manifest["experiment"] / Path(run_dir).name
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(run_dir, partial, ignore=shutil.ignore_patterns("checkpoints", LOCK_FILE, ".*"))
    best = Path(run_dir) / "checkpoints" / "best.pt"
    if keep_checkpoint and best.exists() and best.stat().st_size <= limit_mb * 1e6:
        (partial / "checkpoints").mkdir()
        shutil.copy2(best, partial / "checkpoints" / "best.pt")
    partial.rename(target)
    return target
