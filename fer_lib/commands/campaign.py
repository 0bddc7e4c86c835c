"""`campaign plan | run | status | preflight | pack-data | unpack-data | pack-results | unpack-results`: the study's runs
as one campaign, ordered by verdicts gained per GPU-minute, run through submitit (locally or on Slurm)."""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from fer_lib.campaign import executors, plan as planning, preflight as checks, status, transfer
from fer_lib.paths import scratch_dir

PLAN_COLUMNS = ["paper", "experiment", "seed", "fold", "epochs", "train images", "img/s", "est. minutes",
                "claims per run", "cumulative minutes", "status"]


def _plan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget-minutes", type=float, default=None, metavar="M",
                        help="device minutes available: plan marks what fits (cumulative estimate); run stops "
                             "launching runs that cannot finish inside it")
    parser.add_argument("--only", nargs="+", default=None, metavar="P", help="papers (P1..P4) or experiment names")
    parser.add_argument("--profile", default="full", choices=["full", "smoke"],
                        help="full: the papers' budgets on the real data (the record); smoke: the embedded "
                             "synthetic data, a pipeline check (scratch/)")
    parser.add_argument("--data-dir", default=None, help="dataset directory (default: $FER_DATA_DIR, then ./data)")
    parser.add_argument("--calibration", default=None, metavar="FILE",
                        help="img/s measured by `campaign preflight --out FILE` (replace the estimates)")
    parser.add_argument("--tflops", type=float, default=planning.ASSUMED_TFLOPS,
                        help="assumed sustained training TFLOP/s where nothing was measured")
    parser.add_argument("--retrain-older-engine", action="store_true",
                        help="a complete run trained before this engine (its manifest has no 'allocator') does not "
                             "count as done: it is trained again; the old run stays in the record")


def _preflight_parser(sub) -> None:
    pre = sub.add_parser("preflight", help="check versions, device, bf16, data; time each model family")
    pre.add_argument("--only", nargs="+", default=None, metavar="P")
    pre.add_argument("--profile", default="full", choices=["full", "smoke"])
    pre.add_argument("--data-dir", default=None)
    pre.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    pre.add_argument("--steps", type=int, default=3, help="timed steps per model family")
    pre.add_argument("--batch", type=int, default=None, help="batch for timing (default: each experiment's)")
    pre.add_argument("--layout-steps", type=int, default=5,
                     help="CPU: timed steps of one run with all threads and of two at once with half each, per "
                          "model family, at --batch or each experiment's (0: not measured)")
    pre.add_argument("--out", default=None, metavar="FILE", help="write the calibration (JSON) here")
    pre.set_defaults(handler=_preflight)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the campaign's actions."""
    sub = parser.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")
    planner = sub.add_parser("plan", help="print the ordered plan with estimates; complete runs are skipped")
    _plan_options(planner)
    planner.add_argument("--csv", default=None, metavar="PATH", help="also write the whole plan as CSV")
    planner.set_defaults(handler=_plan)
    runner = sub.add_parser("run", help="run the plan through submitit (local executor or Slurm)")
    _plan_options(runner)
    runner.add_argument("--executor", default="local", choices=["local", "slurm"])
    runner.add_argument("--parallel", type=int, default=None,
                        help="local: runs at once (default: per GPU as the calibration measured, one per GPU without it; on a "
                             "CPU the layout the calibration measured, else 1; threads: CPUs // N each)")
    runner.add_argument("--gpus-per-job", type=int, default=None, help="default: 1 on Slurm; local: 1 where CUDA is, else 0")
    runner.add_argument("--cpus-per-job", type=int, default=8, help="slurm: CPUs per job")
    runner.add_argument("--partition", default=None, help="slurm partition")
    runner.add_argument("--array-parallelism", type=int, default=16, help="slurm: tasks of one array at once")
    runner.add_argument("--no-wait", action="store_true", help="slurm: submit and return")
    runner.add_argument("--work-dir", default=None, help="where runs train and checkpoints stay "
                                                         "(default: scratch/campaign; shared storage on Slurm)")
    runner.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    runner.add_argument("--dry-run", action="store_true", help="print the jobs and stop")
    runner.add_argument("--commit", action="store_true",
                        help="commit each published run folder, alone, in the git repository holding the record, "
                             "as it lands (a failed commit keeps the run and is said in the outcome)")
    runner.set_defaults(handler=_run)
    where = sub.add_parser("status", help="per experiment: complete, half-done (resumable), left")
    _plan_options(where)
    where.add_argument("--work-dir", default=None, help="the campaign's work folder (default: scratch/campaign)")
    where.set_defaults(handler=_status)
    _preflight_parser(sub)
    pack = sub.add_parser("pack-data", help="pack <name>.npz of the data dir for transfer (lossless, checked)")
    pack.add_argument("names", nargs="+", help="file names without .npz, e.g. rafdb_basic")
    pack.add_argument("--data-dir", default=None)
    pack.add_argument("--out", required=True, help="folder for the packed parts")
    pack.add_argument("--part-mb", type=float, default=60.0, help="largest part (MB)")
    pack.set_defaults(handler=_pack_data)
    unpack = sub.add_parser("unpack-data", help="rebuild datasets from packed parts, every decoded array checked")
    unpack.add_argument("xfer", nargs="+", help="<name>.xfer.json files")
    unpack.add_argument("--data-dir", default=None)
    unpack.set_defaults(handler=_unpack_data)
    back = sub.add_parser("pack-results", help="pack run records (and tables) into <= 8 files of <= 16 MB")
    back.add_argument("paths", nargs="*", help="run folders or files under the record (results/)")
    back.add_argument("--log", default=None, help="also every run a campaign published (its campaign-*.json log)")
    back.add_argument("--out", required=True)
    back.add_argument("--part-mb", type=float, default=transfer.PART_MB)
    back.add_argument("--max-files", type=int, default=transfer.MAX_FILES, help="most files written (index included)")
    back.set_defaults(handler=_pack_results)
    back_in = sub.add_parser("unpack-results", help="add packed records to results/ (never replaces a run)")
    back_in.add_argument("index", help="records.json written by pack-results")
    back_in.set_defaults(handler=_unpack_results)


def _table(args) -> pd.DataFrame:
    measured = checks.read_calibration(args.calibration) if args.calibration else None
    return planning.plan(args.budget_minutes, args.only, args.data_dir, measured=measured, tflops=args.tflops,
                         profile=args.profile, retrain_older_engine=args.retrain_older_engine)


def _plan(args) -> int:
    table = _table(args)
    if args.csv:
        table.to_csv(args.csv, index=False)
    shown = PLAN_COLUMNS + (["fits budget"] if args.budget_minutes else [])
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 20):
        print(table[shown].to_string(index=False))
    todo = table[table["status"].isin(planning.RUNNABLE)]
    print(f"\n{len(table)} runs: {len(todo)} to run ({todo['est. minutes'].sum():.0f} estimated minutes; "
          f"{(table['status'] == planning.RETRAIN).sum()} of them retrain an older engine's run), "
          f"{(table['status'] == planning.COMPLETE).sum()} complete, "
          f"{(table['status'] == 'dataset unavailable').sum()} without their dataset here.")
    if args.budget_minutes:
        fits = table[table["fits budget"].astype(bool)]
        print(f"Fits in {args.budget_minutes:g} minutes: {len(fits)} runs "
              f"({fits['est. minutes'].sum():.1f} estimated minutes, {fits['claims per run'].sum():.2f} claims' worth).")
    sources = sorted(set(table["estimate source"])) if len(table) else ["-"]
    print(f"Estimates: {'; '.join(sources)}.")
    return 0


def _run(args) -> int:
    # On Slurm the submitting host (a login node) may have no GPU while the nodes do.
    default_gpus = 1 if args.executor == "slurm" else int(torch.cuda.is_available())
    gpus = args.gpus_per_job if args.gpus_per_job is not None else default_gpus
    n_gpus = torch.cuda.device_count() if gpus else 0
    on_cpu = not n_gpus and args.executor == "local"  # runs share this machine's CPU
    per_device, slowdown, why = checks.read_concurrency(args.calibration, cpu=on_cpu) \
        if args.calibration and (n_gpus or on_cpu) else (1, 1.0, "")
    parallel = args.parallel or per_device * max(1, n_gpus)
    if args.parallel is None and why:
        threads = f", {max(1, (os.cpu_count() or 1) // parallel)} thread(s) each" if on_cpu else ""
        print(f"[campaign] {why} (calibration) -> {parallel} at once{threads}")
    work = Path(args.work_dir or scratch_dir() / "campaign").resolve()
    jobs = executors.planned_jobs(_table(args), work, args.data_dir, args.device,
                                  within_budget=args.executor == "slurm",
                                  slowdown=slowdown if args.executor == "local" and parallel > max(1, n_gpus) else 1.0)
    print(f"[campaign] {len(jobs)} run(s) to run, work dir {work}")
    for item in jobs:
        print(f"  {item.job.label}: ~{item.minutes:.2f} min (requests {item.request_minutes:.1f}) "
              f"-> {item.job.destination}")
    if args.dry_run:
        return 0
    folder = work / "submitit"
    if not jobs:
        outcomes = []
    elif args.executor == "local":
        outcomes = executors.run_local(jobs, folder, args.budget_minutes, parallel=parallel, gpus=n_gpus,
                                       commit=args.commit)
    else:
        outcomes = executors.submit_slurm(jobs, folder, gpus=gpus, cpus=args.cpus_per_job, partition=args.partition,
                                          array_parallelism=args.array_parallelism, wait=not args.no_wait,
                                          commit=args.commit)
    table = pd.DataFrame(outcomes, columns=["run", "state", "est. minutes", "minutes", "img/s", "detail"])
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"campaign-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json"  # a portable file name
    log.write_text(json.dumps({"executor": args.executor, "budget_minutes": args.budget_minutes,
                               "outcomes": outcomes}, indent=1, default=str) + "\n")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 90):
        print(table[["run", "state", "est. minutes", "minutes", "img/s", "detail"]].to_string(index=False))
    print(f"[campaign] {status.outcome_summary(outcomes)}; log {log}")
    return 1 if (table["state"] == "failed").any() else 0


def _status(args) -> int:
    work = Path(args.work_dir or scratch_dir() / "campaign").resolve()
    table = status.campaign_status(_table(args), work)
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 20):
        print(table.to_string(index=False))
    print(f"\n{table['complete'].sum()} of {table['runs'].sum()} runs complete, "
          f"{table['half-done (resumable)'].sum()} half-done in {work}, {table['to run'].sum()} to run "
          f"(~{table['est. minutes left'].sum():.0f} estimated minutes). {status.last_campaign(work)}.")
    return 0


def _preflight(args) -> int:
    result = checks.preflight(args.only, args.profile, args.data_dir, args.device, args.steps, args.batch,
                              layout_steps=args.layout_steps)
    with pd.option_context("display.width", 200, "display.max_colwidth", 120):
        print(result.checks.to_string(index=False))
    if args.out:
        checks.write_calibration(args.out, result, args.device)
        print(f"calibration: {args.out} (use with `campaign plan --calibration {args.out}`)")
    failed = result.checks[~result.checks["ok"]]
    print("preflight: ok" if result.ok else f"preflight: {len(failed)} check(s) failed: "
          + "; ".join(failed["check"]))
    return 0 if result.ok else 1


def _pack_data(args) -> int:
    for name in args.names:
        index = transfer.pack_dataset(name, args.out, args.data_dir, args.part_mb)
        record = json.loads(index.read_text())
        print(f"{name}: {len(record['parts'])} part(s), {sum(p['bytes'] for p in record['parts']) / 1e6:.1f} MB "
              f"-> {index}")
    return 0


def _unpack_data(args) -> int:
    for xfer in args.xfer:
        print(f"{xfer}: checked, {transfer.unpack_dataset(xfer, args.data_dir)}")
    return 0


def _pack_results(args) -> int:
    paths = [Path(p) for p in args.paths]
    if args.log:
        outcomes = json.loads(Path(args.log).read_text())["outcomes"]
        paths += [Path(o["run_dir"]) for o in outcomes if o["state"] == "complete" and o.get("run_dir")]
    if not paths:
        raise ValueError("pack-results: nothing to pack (name run folders or files, or --log with complete runs)")
    files = transfer.pack_records(paths, args.out, args.part_mb, args.max_files)
    print(f"{len(files)} file(s): " + ", ".join(f"{f.name} ({f.stat().st_size / 1e6:.1f} MB)" for f in files))
    return 0


def _unpack_results(args) -> int:
    runs = transfer.unpack_records(args.index)
    print(f"{len(runs)} run(s) added to the record: " + ", ".join(runs))
    return 0
