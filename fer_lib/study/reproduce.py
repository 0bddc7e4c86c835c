"""Run every numbered notebook headlessly with papermill, in order, then build the report."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from fer_lib.outputs import portable_notebook
from fer_lib.paths import OUTPUT_ENV, PROJECT_ROOT, results_dir
from fer_lib.study.site import publish

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"


def numbered_notebooks(only: list[str] | None = None, notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """The notebooks `NN_name.ipynb` in order; `only` keeps those whose name starts with an entry."""
    books = sorted(notebook_dir.glob("[0-9][0-9]_*.ipynb"))
    if only:
        chosen = [b for b in books if any(b.stem.startswith(prefix) for prefix in only)]
        if not chosen:
            raise ValueError(f"no notebook matches {only}; available: {[b.stem for b in books]}")
        books = chosen
    return books


def notebook_parameters(path: Path, wanted: dict) -> dict:
    """The subset of `wanted` that the notebook's `parameters` cell declares."""
    import papermill

    declared = papermill.inspect_notebook(str(path))
    return {key: value for key, value in wanted.items() if key in declared}


def output_plan(profile: str, record: bool) -> tuple[str, bool]:
    """(where the notebooks write, whether they train) for a reproduce call.

    record=True rebuilds the study's record from the runs already in it (no training); the full profile
    trains the papers' budgets into the record; the smoke profile is a pipeline check on the embedded
    synthetic data and writes only to the scratch space.
    """
    if record:
        return "record", False
    return ("record", True) if profile == "full" else ("scratch", True)


def run_notebooks(profile: str = "smoke", data_dir: str | None = None, seed: int = 0,
                  only: list[str] | None = None, build_report: bool = True,
                  notebook_dir: Path = NOTEBOOK_DIR, record: bool = False) -> int:
    """Execute the notebooks; stop at the first failure (return 1) and name it. Returns 0 on success.

    Where they write and whether they train: see output_plan. The choice reaches the notebook kernels
    through $FER_OUTPUT (fer_lib.paths.scratch_mode).
    """
    mode, train = output_plan(profile, record)
    previous = os.environ.get(OUTPUT_ENV)
    os.environ[OUTPUT_ENV] = mode
    try:
        what = "the study record" if mode == "record" else "scratch space: a pipeline check, never the record"
        print(f"[reproduce] writing to {results_dir()} ({what}); train={train}", flush=True)
        return _execute(profile, data_dir, seed, only, build_report, notebook_dir, train)
    finally:
        if previous is None:
            os.environ.pop(OUTPUT_ENV, None)
        else:
            os.environ[OUTPUT_ENV] = previous


def _execute(profile: str, data_dir: str | None, seed: int, only: list[str] | None, build_report: bool,
             notebook_dir: Path, train: bool) -> int:
    import papermill

    out_dir = results_dir() / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    # A record rebuild reads the committed training bench (results/bench, written by `make bench`) rather than
    # rerun it, but times inference whenever the record is built (the speed claims, notebook 10's speed columns):
    # a few passes, about two minutes on a 2-core CPU; the timings, and so those rows, differ from build to build,
    # and a speed claim timed on another device class than the paper's stays inconclusive.
    wanted = {"profile": profile, "data_dir": data_dir, "seed": seed, "train": train, "run_bench": train,
              "measure_speed": True}
    timings = []
    for book in numbered_notebooks(only, notebook_dir):
        params = notebook_parameters(book, wanted)
        print(f"[reproduce] {book.stem}  {params}", flush=True)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(book), str(out_dir / book.name), parameters=params, kernel_name="python3",
                cwd=str(notebook_dir), progress_bar=False, request_save_on_cell_execute=True,
            )
        except Exception as err:  # papermill raises PapermillExecutionError with the cell's traceback
            print(f"[reproduce] FAILED: notebook {book.name} ({type(err).__name__}); "
                  f"its executed copy with the error is {out_dir / book.name}", file=sys.stderr)
            print(str(err)[-3000:], file=sys.stderr)
            return 1
        portable_notebook(out_dir / book.name)
        timings.append((book.stem, time.perf_counter() - start))
        print(f"[reproduce] {book.stem} done in {timings[-1][1]:.0f} s", flush=True)
    if build_report:
        site = publish()
        print(f"[reproduce] report: {site.parent.parent / 'index.html'}; site: {site}")
    total = sum(seconds for _, seconds in timings)
    print(f"[reproduce] {len(timings)} notebooks in {total:.0f} s (profile={profile})")
    return 0
