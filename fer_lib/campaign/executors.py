"""Running the campaign through submitit: its local executor on one machine, its Slurm executor on a cluster.

Local: at most `parallel` runs at once (one per GPU when there are several: each job sees one through
CUDA_VISIBLE_DEVICES), in plan order. Before a run is launched its time request (fer_lib.campaign.plan.
request_minutes: estimate x 1.3 + 0.5 min) is held against what is left of the budget: a run that cannot finish inside it is not
launched, and a launched one is stopped at the budget's end, its half-run left in the work folder
(resumable by the next campaign, never counted). Slurm: one job array per experiment, its time request
from the plan, the environment exported in the job script.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import submitit

from fer_lib.campaign.jobs import CampaignJob
from fer_lib.campaign.plan import RUNNABLE, destination, request_minutes
from fer_lib.campaign.record_git import commit_outcome
from fer_lib.paths import PROJECT_ROOT, data_dir as resolve_data_dir, record_dir, scratch_dir

MIN_SLURM_MINUTES = 2  # the shortest time request sent to Slurm
LOCAL_WARNING_S = 10  # a local job is told this long before the budget ends (submitit: SIGUSR2, then killed)
STATES = ("complete", "failed", "stopped", "not launched", "submitted")


@dataclass
class Planned:
    """A job with its estimate in minutes (from the plan)."""

    job: CampaignJob
    minutes: float

    @property
    def request_minutes(self) -> float:
        return request_minutes(self.minutes)


def planned_jobs(table: pd.DataFrame, work_dir: Path, data_dir: str | None, device: str = "auto",
                 within_budget: bool = False, slowdown: float = 1.0) -> list[Planned]:
    """The plan's runs still to run, in plan order, as jobs (each with its destination and estimate, times
    `slowdown` when runs share a GPU); within_budget keeps only those the plan fits in its budget."""
    rows = table[table["status"].isin(RUNNABLE)]
    if within_budget and "fits budget" in rows:
        rows = rows[rows["fits budget"].astype(bool)]
    out = []
    for row in rows.to_dict("records"):
        fold = None if pd.isna(row["fold"]) else int(row["fold"])
        dataset = row["dataset"]
        job = CampaignJob(experiment=row["experiment"], seed=int(row["seed"]), fold=fold, profile=row["profile"],
                          destination=str(destination(dataset, row["profile"])), work_dir=str(work_dir),
                          data_dir=data_dir, device=device, keep_checkpoint=bool(row["keep checkpoint"]))
        out.append(Planned(job, float(row["est. minutes"]) * slowdown))
    return out


def job_environment(cpus: int | None) -> dict[str, str]:
    """What a job needs to find the code, the data and where the record is, whatever its working folder."""
    paths = [str(PROJECT_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), "FER_DATA_DIR": str(resolve_data_dir()),
           "FER_RESULTS_DIR": str(record_dir()), "FER_SCRATCH_DIR": str(scratch_dir()), "FER_PROGRESS": "0"}
    if cpus:
        env["OMP_NUM_THREADS"] = str(cpus)
    return env


def exports(env: dict[str, str]) -> list[str]:
    """Shell lines that export `env` (the first lines of every job script)."""
    return [f"export {key}={shlex.quote(value)}" for key, value in env.items()]


def _outcome(planned: Planned, state: str, minutes: float | None = None, detail: str = "",
             result: dict | None = None) -> dict:
    assert state in STATES
    return {"run": planned.job.label, "experiment": planned.job.experiment, "seed": planned.job.seed,
            "fold": planned.job.fold, "state": state, "est. minutes": round(planned.minutes, 2),
            "minutes": None if minutes is None else round(minutes, 2), "detail": detail,
            "run_dir": (result or {}).get("run_dir"), "img/s": (result or {}).get("train_img_per_s")}


_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)):")


def _failure(err: BaseException) -> str:
    """The job's own error line out of submitit's report (which carries the job's traceback and log paths)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    errors = [line for line in lines if _ERROR_LINE.match(line)]
    return (errors[-1] if errors else lines[-1] if lines else type(err).__name__)[:300]


def stopped_by_budget(err: BaseException, elapsed_s: float, timeout_s: float) -> bool:
    """Whether a local job ended because its time ran out (told LOCAL_WARNING_S before, then killed), not
    because of an error of its own: submitit's time-out report, or no result once its time was nearly up."""
    text = str(err)
    if "timed-out" in text or "Job not requeued" in text:
        return True
    no_result = isinstance(err, submitit.core.utils.UncompletedJobError) and \
        not isinstance(err, submitit.core.utils.FailedJobError)
    return no_result and elapsed_s >= timeout_s - LOCAL_WARNING_S - 1.0


def _completed(item: Planned, result: dict, minutes: float | None = None, detail: str = "",
               commit: bool = False) -> dict:
    """A complete job's outcome; with `commit`, its published run folder is committed here, in the campaign's
    process (record_git.commit_outcome: a failed commit is said in the detail, the run stays published)."""
    if commit:
        detail = "; ".join(filter(None, [detail, commit_outcome(result.get("run_dir"))]))
    return _outcome(item, "complete", minutes, detail=detail, result=result)


def run_local(planned: list[Planned], folder: Path, budget_minutes: float | None = None, parallel: int = 1,
              gpus: int = 0, poll_s: float = 1.0, clock: Callable[[], float] = time.monotonic,
              commit: bool = False) -> list[dict]:
    """Run the jobs on this machine through submitit's LocalExecutor; one outcome per job (with `commit`, each
    published run is committed as it lands)."""
    executor = submitit.LocalExecutor(folder=folder / "%j", max_num_timeout=0)
    cpus = None if gpus else max(1, (os.cpu_count() or 1) // max(1, parallel))
    executor.update_parameters(setup=exports(job_environment(cpus)))
    start, queue, running, outcomes = clock(), list(planned), {}, []
    while queue or running:
        free_slots = [s for s in range(max(1, parallel)) if s not in running]
        while queue and free_slots:
            item = queue.pop(0)
            left = math.inf if budget_minutes is None else budget_minutes - (clock() - start) / 60
            if item.request_minutes > left:
                outcomes.append(_outcome(item, "not launched", detail=f"needs ~{item.request_minutes:.1f} min, "
                                                                       f"{max(0.0, left):.1f} left in the budget"))
                continue
            slot = free_slots.pop(0)
            gpu = {"gpus_per_node": 1, "visible_gpus": [slot % gpus]} if gpus else {"gpus_per_node": 0}
            timeout = min(left, 7 * 24 * 60)
            executor.update_parameters(timeout_min=timeout, signal_delay_s=LOCAL_WARNING_S, **gpu)
            running[slot] = (item, executor.submit(item.job), clock(), timeout)
        for slot, (item, job, started, timeout) in list(running.items()):
            if job.done():
                del running[slot]
                minutes = (clock() - started) / 60
                try:
                    result = job.result()
                except Exception as err:  # the job's own error, re-raised by submitit, or no result at all
                    state = "stopped" if stopped_by_budget(err, minutes * 60, timeout * 60) else "failed"
                    detail = ("stopped at the budget's end; resumes from the work folder next time"
                              if state == "stopped" else _failure(err))
                    outcomes.append(_outcome(item, state, minutes, detail=detail))
                else:
                    outcomes.append(_completed(item, result, minutes, commit=commit))
        if running:
            time.sleep(poll_s)
    return outcomes


def slurm_executor(folder: Path, *, name: str, minutes: float, gpus: int, cpus: int, partition: str | None,
                   array_parallelism: int, python: str | None = None) -> submitit.SlurmExecutor:
    """A SlurmExecutor for one experiment's job array: time, GPUs, CPUs and the exported environment."""
    try:
        executor = submitit.SlurmExecutor(folder=folder / "%j", max_num_timeout=1, python=python)
    except RuntimeError as err:  # no srun here
        raise ValueError(f"--executor slurm: {err} (run on a Slurm login node, or use --executor local)") from None
    limit = max(MIN_SLURM_MINUTES, math.ceil(minutes))
    # submitit warns a job (SIGUSR2 -> checkpoint -> requeue) this long before its limit; its default, 90 s,
    # exceeds the whole limit of a short job, which would then be requeued at once.
    warning_s = int(min(120, max(15, 0.2 * 60 * limit)))
    params = {"job_name": f"fer-{name}", "time": limit, "cpus_per_task": cpus, "signal_delay_s": warning_s,
              "array_parallelism": array_parallelism, "setup": exports(job_environment(cpus)), "stderr_to_stdout": True}
    if gpus:
        params["gpus_per_node"] = gpus
    if partition:
        params["partition"] = partition
    executor.update_parameters(**params)
    return executor


def submit_slurm(planned: list[Planned], folder: Path, *, gpus: int = 1, cpus: int = 8, partition: str | None = None,
                 array_parallelism: int = 16, wait: bool = True, python: str | None = None,
                 commit: bool = False) -> list[dict]:
    """Submit one job array per experiment; with `wait`, wait for every job and report its outcome (with
    `commit`, each published run is committed as its result comes in)."""
    groups: dict[str, list[Planned]] = {}
    for item in planned:
        groups.setdefault(item.job.experiment, []).append(item)
    submitted: list[tuple[Planned, submitit.Job]] = []
    for experiment, items in groups.items():
        executor = slurm_executor(folder, name=experiment, minutes=max(i.request_minutes for i in items), gpus=gpus,
                                  cpus=cpus, partition=partition, array_parallelism=array_parallelism, python=python)
        with executor.batch():
            jobs = [executor.submit(item.job) for item in items]
        submitted += list(zip(items, jobs))
    outcomes = []
    for item, job in submitted:
        if not wait:
            outcomes.append(_outcome(item, "submitted", detail=f"slurm job {job.job_id}"))
            continue
        try:
            result = job.result()
        except Exception as err:
            outcomes.append(_outcome(item, "failed", detail=f"slurm job {job.job_id}: {_failure(err)}"))
        else:
            outcomes.append(_completed(item, result, detail=f"slurm job {job.job_id}", commit=commit))
    return outcomes
