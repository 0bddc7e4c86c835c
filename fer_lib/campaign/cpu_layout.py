"""On a CPU, one run with every thread, or two runs at once with half the threads each? Measured, per model family.

Two processes are spawned (multiprocessing 'spawn': fresh interpreters, as campaign jobs are). Each times the
engine's own train step on an in-memory batch, as the calibration does (bench's setup_case, make_train_step,
upper_bound_feeder, time_steps):
1. the first process alone, with all threads (os.cpu_count(): what one campaign job gets): `steps` timed
   steps -> one run's img/s, and its peak memory (getrusage ru_maxrss: the whole process, model, optimizer,
   activations);
2. if two such processes fit in MEMORY_SHARE of the machine's memory, the second builds the same run, both
   switch to cpu_count // 2 threads (what each of two jobs gets), wait at a barrier and time `steps` steps
   together -> both runs' images over the longer of the two spans: the img/s of two runs at once, in total.
A family prefers two at once when that total is higher and 2 x its peak fits. The campaign runs two at once
only when every family measured prefers it (one `--parallel` for the whole campaign); each of its runs is
then slower by (one run's img/s) / (half the pair's), the largest such factor over families (its estimates
and time requests are stretched by it).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queues
import resource
import time

import torch

from fer_lib.bench.cases import BenchCase
from fer_lib.bench.pipelines import make_train_step, setup_case, upper_bound_feeder
from fer_lib.bench.timing import time_steps
from fer_lib.devices import load_avg

# A real run holds more than the measured step: the dataset, its splits, evaluation batches, and the heap the
# allocator keeps (fer_lib.allocator). Measured: P2 C5 on RAF-DB peaked at 10.0 GB RSS against 6.7 GB for the
# synthetic train step at batch 128 (x1.5).
REAL_RUN_FACTOR = 1.5
MEMORY_SHARE = 0.8  # two runs at once only when 2 x one run's peak memory stays under this share of the machine's
MIN_GAIN = 1.10  # two at once must give 10 % more images per second in total: a few timed steps are noisy
BARRIER_TIMEOUT_S = 900.0  # a process that never reaches the barrier (crashed, killed for memory) ends the measurement


def machine_memory_bytes() -> int:
    """Physical memory of this machine (bytes)."""
    return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def _timed_span(case: BenchCase, batch: int, steps: int, warmup: int, threads: int,
                ready: "mp.synchronize.Barrier | None" = None, built: tuple | None = None) -> tuple[float, tuple]:
    """(seconds of `steps` timed steps, the built (step, feeder)): build (unless given), set threads, warm up,
    wait at `ready` (the other process), then time."""
    torch.set_num_threads(threads)
    if built is None:
        model, criterion, optimizer, rt = setup_case(case, torch.device("cpu"))
        built = (make_train_step(model, criterion, optimizer, rt, case.cfg["train"].get("grad_clip")),
                 upper_bound_feeder(rt, batch))
    step, feeder = built
    for _ in range(max(1, warmup)):
        step(*feeder())
    if ready is not None:
        ready.wait(BARRIER_TIMEOUT_S)
    started = time.perf_counter()
    time_steps(feeder, step, torch.device("cpu"), warmup=0, steps=steps, prime=False)
    return time.perf_counter() - started, built


def peak_bytes() -> int:
    """This process's peak resident memory: /proc/self/status VmHWM, which exec resets. (ru_maxrss is not a
    spawned child's own: Linux carries it over fork and exec, so a child would report its parent's peak.)"""
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # KiB on Linux; elsewhere the best there is


def _layout_child(index: int, case: BenchCase, batch: int, steps: int, warmup: int, cpus: int, limit_bytes: int,
                  barrier, peak, results) -> None:
    """One of the two measuring processes (index 0 also times one run alone); puts its numbers on `results`."""
    try:
        out: dict = {"index": index}
        built = None
        barrier.wait(BARRIER_TIMEOUT_S)  # both processes started (imports done) before anything is timed
        if index == 0:
            out["one_run_s"], built = _timed_span(case, batch, steps, warmup, cpus, None)
            peak.value = peak_bytes()
        barrier.wait(BARRIER_TIMEOUT_S)  # the single run is timed; the second process built nothing yet
        if 2 * REAL_RUN_FACTOR * peak.value > limit_bytes:
            out["peak_bytes"] = peak_bytes()
            results.put(out)
            return
        out["two_runs_s"], _ = _timed_span(case, batch, steps, warmup, max(1, cpus // 2), barrier, built)
        out["peak_bytes"] = peak_bytes()
        results.put(out)
    except Exception as err:  # out of memory, a broken barrier: said, not hung
        barrier.abort()  # the other process stops waiting
        results.put({"index": index, "error": f"{type(err).__name__}: {err}"[:300]})


def measure_family(case: BenchCase, batch: int, steps: int = 5, warmup: int = 1, cpus: int | None = None,
                   memory_bytes: int | None = None, timeout_s: float = 1800.0) -> dict:
    """One family's numbers (one run's img/s, two runs' img/s in total, peak memory) and its preferred layout."""
    cpus = cpus or os.cpu_count() or 1
    memory = memory_bytes or machine_memory_bytes()
    ctx = mp.get_context("spawn")
    barrier, peak, results = ctx.Barrier(2), ctx.Value("q", 0), ctx.Queue()
    args = (case, batch, steps, warmup, cpus, int(MEMORY_SHARE * memory), barrier, peak, results)
    procs = [ctx.Process(target=_layout_child, args=(i, *args), daemon=True) for i in range(2)]
    for proc in procs:
        proc.start()
    outs, deadline = {}, time.monotonic() + timeout_s
    while len(outs) < 2 and time.monotonic() < deadline:
        try:
            item = results.get(timeout=1.0)
            outs[item["index"]] = item
        except queues.Empty:  # a process killed (out of memory) reports nothing: the measurement ends
            if any(p.exitcode not in (None, 0) for p in procs) or not any(p.is_alive() for p in procs):
                break
    for proc in procs:
        proc.join(5.0)
        if proc.is_alive():
            proc.kill()
    return family_layout(case.label, batch, steps, cpus, memory, outs)


def family_layout(label: str, batch: int, steps: int, cpus: int, memory: int, outs: dict) -> dict:
    """A family's row from its two processes' reports: img/s of each layout, peak memory, the preferred layout."""
    row = {"batch": batch, "steps": steps, "threads_one_run": cpus, "threads_each_of_two": max(1, cpus // 2)}
    errors = [o["error"] for o in outs.values() if "error" in o]
    if errors or 0 not in outs or "one_run_s" not in outs[0]:
        return {**row, "runs_at_once": 1, "ok": False,
                "reason": f"{label}: not measured ({'; '.join(errors) or 'a process ended without a report'})"}
    peak = max(o.get("peak_bytes", 0) for o in outs.values())
    one = batch * steps / outs[0]["one_run_s"]
    row.update(one_run_img_per_s=round(one, 2), peak_rss_mb=round(peak / 2**20), ok=True)
    limit = MEMORY_SHARE * memory
    if 2 * REAL_RUN_FACTOR * peak > limit:
        return {**row, "runs_at_once": 1, "reason": f"{label}: one run at a time: two need 2 x {REAL_RUN_FACTOR} x {peak / 2**30:.1f} GiB, "
                                                    f"over {MEMORY_SHARE:.0%} of {memory / 2**30:.1f} GiB"}
    if 1 not in outs or "two_runs_s" not in outs.get(1, {}):
        return {**row, "runs_at_once": 1, "ok": False, "reason": f"{label}: two runs at once not measured"}
    two = 2 * batch * steps / max(outs[0]["two_runs_s"], outs[1]["two_runs_s"])
    row["two_runs_img_per_s"] = round(two, 2)
    gain = two / one
    if cpus < 2 or gain <= MIN_GAIN:
        return {**row, "runs_at_once": 1, "reason": f"{label}: one run at a time: {one:.1f} img/s with {cpus} threads, "
                                                    f"two at once {two:.1f} in total (x{gain:.2f})"}
    return {**row, "runs_at_once": 2, "slowdown_when_sharing": round(max(1.0, one / (two / 2)), 2),  # < 1: noise
            "reason": f"{label}: two at once: {two:.1f} img/s in total against {one:.1f} for one run with {cpus} "
                      f"threads (x{gain:.2f}); peak {peak / 2**30:.1f} GiB each"}


def campaign_layout(families: dict[str, dict], cpus: int, memory: int) -> dict:
    """The campaign's layout from its families' rows: two at once only when every family prefers it."""
    base = {"cpus": cpus, "memory_bytes": memory, "memory_share": MEMORY_SHARE, "families": families,
            "method": "two spawned processes timing the engine's train step on an in-memory batch: one alone with "
                      "all threads, then both at once with half the threads each, started together at a barrier"}
    if families and all(f["runs_at_once"] == 2 for f in families.values()):
        slowdown = max(f["slowdown_when_sharing"] for f in families.values())
        reason = (f"two runs at once, {max(1, cpus // 2)} thread(s) each: every family measured gains ("
                  + "; ".join(f["reason"] for f in families.values()) + ")")
        return {**base, "runs_at_once": 2, "threads_per_run": max(1, cpus // 2), "slowdown_when_sharing": slowdown,
                "reason": reason}
    against = [f["reason"] for f in families.values() if f["runs_at_once"] != 2] or ["no family measured"]
    return {**base, "runs_at_once": 1, "threads_per_run": cpus, "slowdown_when_sharing": 1.0,
            "reason": f"one run at a time with {cpus} threads: " + "; ".join(against)}


def measure_cpu_layout(cases: list[BenchCase], batch: int | None = None, steps: int = 5, warmup: int = 1,
                       cpus: int | None = None, memory_bytes: int | None = None) -> dict:
    """Measure every family (one per label) and decide the campaign's CPU layout (see the module docstring);
    batch: each case's config batch unless given."""
    cpus = cpus or os.cpu_count() or 1
    memory = memory_bytes or machine_memory_bytes()
    families, load_before = {}, load_avg()  # a busy machine measures another layout
    for case in cases:
        if case.label not in families:
            size = batch or int(case.cfg["train"]["batch_size"])
            families[case.label] = measure_family(case, size, steps, warmup, cpus, memory)
    return {**campaign_layout(families, cpus, memory), "load_1m_before": load_before,
            "load_1m_after": load_avg()}
