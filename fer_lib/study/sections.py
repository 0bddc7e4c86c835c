"""The steps every paper notebook takes, each one call: plan the data, train (or skip), show a table and
save it, the best run's figures, its misclassified gallery, and the closing note with the runs it used."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, display

from fer_lib import outputs
from fer_lib.plots import plot_bubbles
from fer_lib.runs.select import complete_runs, latest_runs, verdict_runs
from fer_lib.study.figures import misclassified_figure, save_run_figures
from fer_lib.study.notes import write_note
from fer_lib.study.plans import train_or_skip
from fer_lib.study.precision import precision_check, precision_runs
from fer_lib.study.setup import data_plan, profile_experiments
from fer_lib.study.tables import grid_table, grid_wide, headline, p3_table1_beside, per_class_table


def saved(table: pd.DataFrame, section: str, name: str) -> pd.DataFrame:
    """Save `table` as results/<section>/<name>.csv/.md and return it (for display as the cell's value)."""
    outputs.save_table(table, section, name)
    return table


def plan_section(section: str, experiments: list[str], smoke_subset: list[str], *, profile: str,
                 data_dir=None) -> tuple[list[str], pd.DataFrame]:
    """(experiments this profile trains, the data plan, saved as data_plan)."""
    to_train = profile_experiments(experiments, smoke_subset, profile)
    return to_train, saved(data_plan(experiments, profile, data_dir), section, "data_plan")


def train_section(section: str, experiments: list[str], to_train: list[str], *, profile: str, data_dir=None,
                  seed: int = 0, device: str = "auto", train: bool = True, overrides: dict | None = None,
                  reasons: dict[str, str] | None = None) -> pd.DataFrame:
    """Train `to_train` (or say why not) and return the table of what happened, saved as trained."""
    _, trained = train_or_skip(experiments, to_train, profile=profile, data_dir=data_dir, seed=seed, device=device,
                               train=train, overrides=overrides, reasons=reasons)
    return saved(trained, section, "trained")


def best_run_figures(experiment: str, section: str, prefix: str) -> dict | None:
    """Show the curves and confusion matrix of the run that speaks for `experiment` (saved under
    `prefix`); returns its headline (study.tables.headline), or None with a message when none ran."""
    best = headline(experiment)
    if best is None:
        print(f"no complete run of {experiment}: run with train=True")
        return None
    print("run:", best["latest"].name, "| data:", best["data"], "| epochs:", best["epochs"])
    for path in save_run_figures(best["latest"], section, prefix):
        display(Image(filename=str(path)))
    return best


def best_run_per_class(best: dict | None, section: str, name: str) -> pd.DataFrame | None:
    """The best run's per-class test table, saved as `name` (None without a run)."""
    return None if best is None else saved(per_class_table(best["latest"]), section, name)


def misclassified_section(best: dict | None, section: str, name: str, data_dir=None, **options) -> None:
    """Draw and save the best run's misclassified test gallery (local-only: it shows dataset images), or
    say why it could not be drawn."""
    if best is None:
        return
    try:
        fig = misclassified_figure(best["latest"], "test", data_dir=data_dir, **options)
    except (FileNotFoundError, ValueError) as err:
        print("gallery not drawn:", str(err).splitlines()[0])
        return
    outputs.save_figure(fig, section, name)
    plt.show()


def finish_section(section: str, experiments: list[str], *, profile: str, data_dir=None,
                   trained: pd.DataFrame | None = None, plan: pd.DataFrame | None = None,
                   lines: list[str] = (), train: bool = True) -> list[Path]:
    """The closing note and the list of runs the section used (results/<section>/runs.json); the runs."""
    used = complete_runs(experiments)
    write_note(section, profile=profile, data_dir=data_dir, trained=trained, plan=plan, lines=lines, train=train)
    outputs.record_runs(section, used)
    print(f"{len(used)} runs summarised")
    return used


def grid_section(grid: dict[str, dict[str, str]], section: str, name: str) -> pd.DataFrame:
    """A paper table laid out as `grid` (row -> dataset -> experiment) with our runs in its cells: saved long
    (`name`_long) and wide (`name`); the wide one is returned."""
    long = saved(grid_table(grid), section, f"{name}_long")
    return saved(grid_wide(long), section, name)


def bubble_section(bubbles: pd.DataFrame, section: str, name: str, title: str) -> None:
    """P2's bubble chart (accuracy vs epoch time, area = parameters) of `bubbles`, titled with the data it
    was computed on, saved as `name` and shown."""
    data = ", ".join(sorted(set(bubbles.dropna(subset=["accuracy %"])["data"]))) or "no complete run"
    outputs.save_figure(plot_bubbles(bubbles, title=f"{title} ({data})", group="timed on"), section, name)
    plt.show()


def with_params(table: pd.DataFrame) -> pd.DataFrame:
    """`table` (one row per experiment) with a `parameters` column from each experiment's headline run."""
    heads = {e: headline(e) for e in table["experiment"]}
    table = table.copy()
    table.insert(1, "parameters", [heads[e]["params"] if heads[e] else None for e in table["experiment"]])
    return table


def precision_section(section: str, experiment: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """bf16 against fp32 on `experiment`'s runs (fer_lib.study.precision): the runs, the summary per precision
    (saved as precision_runs and precision_check) and the verdict paragraph."""
    runs = saved(precision_runs(experiment), section, "precision_runs")
    summary, verdict = precision_check(runs)
    return runs, saved(summary, section, "precision_check"), verdict


def table1_section(section: str, variants: dict[str, str]) -> tuple[pd.DataFrame, dict[str, list[Path]], str]:
    """P3 Table 1 beside each variant (name -> experiment): the runs that count for its verdicts, else its newest
    run; the table (saved as table1_beside_ours), the runs per variant, and a caption naming them."""
    reports = {name: verdict_runs(experiment) or latest_runs(experiment)[:1] for name, experiment in variants.items()}
    caption = "; ".join(f"{name}: " + (", ".join(f"`{run.name}`" for run in runs) or "no run yet")
                        for name, runs in reports.items())
    return saved(p3_table1_beside(reports), section, "table1_beside_ours"), reports, caption
