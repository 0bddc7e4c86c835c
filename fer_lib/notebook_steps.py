"""Steps the experiment notebooks (04-09) share, so each notebook stays a parameters cell plus calls.

- which experiments a profile trains, and the extra-small smoke budget (`smoke_overrides`);
- training or explaining why not (`train_or_skip`), what data each experiment uses here (`data_plan`);
- our numbers beside the paper's (`compare_with_paper`, `grid_table`), paper values read from
  fer_lib/claims/claims.yaml, never typed in;
- a run's own images rebuilt from its manifest (`run_dataset`, `split_predictions`) for galleries;
- P2's bubble chart (`epoch_time_table`, `plot_bubbles`);
- the short Markdown note each section saves (`write_note`).
Results on the embedded synthetic data are always labelled `SYNTHETIC`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from fer_lib import outputs
from fer_lib.claims import load_claims
from fer_lib.config import split_spec
from fer_lib.records import list_runs, load_run, recorded_data_dir

SYNTHETIC = "embedded synthetic data, not the paper's"


# ---------------------------------------------------------------- what a profile trains

def smoke_overrides(profile: str, train: int = 8, val: int = 7, test: int = 7, epochs: int = 1,
                    batch_size: int = 8) -> dict | None:
    """Config overrides that shrink smoke runs below the configs' own smoke profiles (None in other profiles).

    The notebooks' smoke runs check the pipeline end to end (train, select, evaluate, record) in
    seconds per model on a CPU; their numbers mean nothing about the papers.
    """
    if profile != "smoke":
        return None
    return {"data.max_samples": {"train": train, "val": val, "test": test}, "train.epochs": epochs,
            "train.batch_size": batch_size, "train.eval_batch_size": max(batch_size, 8), "evaluate.bootstrap": 100}


def configure_threads(profile: str, device: str = "auto") -> str:
    """Smoke runs on a CPU use one intra-op thread (as the tests do): on a small shared machine a second
    thread stalls whenever another process holds the other core (measured here: ~3x slower with 2).
    Returns a line saying what was set."""
    import torch

    from fer_lib.train import resolve_device

    if profile == "smoke" and resolve_device(device).type == "cpu":
        torch.set_num_threads(1)
    return f"torch intra-op threads: {torch.get_num_threads()}"


def profile_experiments(experiments: list[str], smoke_subset: list[str], profile: str) -> list[str]:
    """All `experiments` in the full profile; only `smoke_subset` (a representative few) in smoke and
    real-smoke."""
    unknown = set(smoke_subset) - set(experiments)
    if unknown:
        raise ValueError(f"smoke subset {sorted(unknown)} is not among the experiments {experiments}")
    return list(experiments) if profile == "full" else [e for e in experiments if e in smoke_subset]


def train_or_skip(experiments: list[str], to_train: list[str], *, profile: str, data_dir=None, seed: int = 0,
                  device: str = "auto", train: bool = True, overrides: dict | None = None,
                  scratch_if_no_weights: bool = True, reasons: dict[str, str] | None = None
                  ) -> tuple[list[Path], pd.DataFrame]:
    """Train `to_train` (one seed) and say for every other experiment why it was not trained in this call.

    Returns (new run dirs, table with experiment, status, why, run). With `train=False` nothing is
    trained: the notebook only summarises runs already recorded. `reasons` gives the why of
    experiments that are summarised only (e.g. "trained by notebook 04").
    """
    from fer_lib.study import train_experiments

    rows, run_dirs = [], []
    if train and to_train:
        run_dirs, table = train_experiments(to_train, profile=profile, data_dir=data_dir, seeds=[seed],
                                            device=device, overrides=overrides,
                                            scratch_if_no_weights=scratch_if_no_weights)
        rows = table.to_dict("records")
    for experiment in experiments:
        if train and experiment in to_train:
            continue
        why = "train=False: existing runs summarised only" if not train else (reasons or {}).get(
            experiment, f"not in the {profile} profile's subset (budget); profile='full' trains it")
        rows.append({"experiment": experiment, "profile": profile, "status": "not trained here", "why": why})
    table = pd.DataFrame(rows)
    order = {e: i for i, e in enumerate(experiments)}
    table = table.sort_values("experiment", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return run_dirs, tidy(table)


def tidy(table: pd.DataFrame) -> pd.DataFrame:
    """Blank out missing cells and show whole-number float columns (made float by blanks) as integers."""
    table = table.copy()
    for column in table.columns:
        values = table[column]
        if values.dtype.kind == "f" and values.notna().any() and (values.dropna() % 1 == 0).all():
            table[column] = values.map(lambda v: "" if v != v else int(v)).astype(object)
    return table.astype(object).fillna("")


@lru_cache(maxsize=32)
def _availability(name: str, options: tuple, data_dir: str | None) -> str:
    from fer_lib.data.explore import try_load

    dataset, why = try_load(name, data_dir, **dict(options))
    return "available" if dataset is not None else f"not available: {why}"


def dataset_availability(name: str, data_dir=None, **options) -> str:
    """'available' or 'not available: <the loader's reason>' for a dataset in the data dir (cached)."""
    return _availability(name, tuple(sorted(options.items())), str(data_dir) if data_dir else None)


def data_plan(experiments: list[str], profile: str, data_dir=None) -> pd.DataFrame:
    """Per experiment: the model, the data this profile trains on, and whether the paper's dataset is here."""
    from fer_lib.config import load_config

    rows = []
    for experiment in experiments:
        here, full = load_config(experiment, profile), load_config(experiment, "full")
        data = here["data"]["dataset"]
        paper = full["data"]["dataset"]
        rows.append({"experiment": experiment, "model": here["model"]["name"],
                     "model options": str(here["model"]["options"] or ""),
                     f"{profile} data": f"{data} ({SYNTHETIC})" if data == "synthetic" else data,
                     "paper's dataset": paper,
                     "paper's dataset here": dataset_availability(paper, data_dir, **(full["data"]["options"] or {}))})
    return pd.DataFrame(rows)


def pretrained_weights_status() -> str:
    """Whether ImageNet weights can be had here (tries timm's ResNet-50 via the hub or its cache)."""
    from fer_lib.models import WeightsUnavailableError, create_model

    try:
        create_model("resnet50", pretrained=True)
    except WeightsUnavailableError as err:
        return f"unavailable: {str(err).splitlines()[0]}"
    return "available (hub or local cache)"


# ---------------------------------------------------------------- runs and paper values

def complete_runs(experiments: list[str]) -> list[Path]:
    """Every complete recorded run of the experiments (what the summary tables are computed from)."""
    out = []
    for experiment in experiments:
        runs = list_runs(experiment)
        if not runs.empty:
            out += [Path(p) for p in runs.loc[runs["status"] == "complete", "path"]]
    return out


def data_label(manifest: dict) -> str:
    """'fer2013' for real data, 'synthetic (embedded synthetic data, not the paper's)' otherwise."""
    dataset = manifest.get("dataset", {})
    return dataset.get("name", "?") if dataset.get("real") else f"{dataset.get('name', '?')} ({SYNTHETIC})"


def headline(experiment: str, split: str = "test") -> dict | None:
    """The runs that speak for an experiment and their mean metrics on `split`.

    Real-data runs win over synthetic ones; among those, the full profile, then the largest epoch
    budget, then the newest group. Returns None when there is no complete run.
    """
    runs = list_runs(experiment)
    if runs.empty:
        return None
    runs = runs[runs["status"] == "complete"].copy()
    if runs.empty:
        return None
    runs["real"] = runs["real_data"].fillna(False).astype(bool)
    manifests = {p: load_run(p).manifest for p in runs["path"]}
    runs["allowed"] = [int(manifests[p].get("epochs_override") or manifests[p].get("epochs") or 0) for p in runs["path"]]
    runs["is_full"] = runs["profile"] == "full"
    runs = runs.sort_values(["real", "is_full", "allowed", "started"], ascending=False)
    top = runs.iloc[0]
    group = runs[(runs["real"] == top["real"]) & (runs["dataset"] == top["dataset"]) &
                 (runs["profile"] == top["profile"]) & (runs["allowed"] == top["allowed"])]
    acc = group.get(f"{split}_accuracy", pd.Series(dtype=float)).dropna() * 100
    f1 = group.get(f"{split}_f1_weighted", pd.Series(dtype=float)).dropna() * 100
    manifest = manifests[top["path"]]
    return {"experiment": experiment, "data": data_label(manifest), "real": bool(top["real"]),
            "profile": top["profile"], "epochs": f"{int(top['epochs_run'] or 0)} run / {int(top['allowed'])} allowed / "
                                                  f"{manifest.get('recipe_epochs')} recipe",
            "n": len(group), "accuracy": float(acc.mean()) if len(acc) else np.nan,
            "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else np.nan,
            "f1_weighted": float(f1.mean()) if len(f1) else np.nan,
            "params": manifest.get("num_params"), "runs": [Path(p) for p in group["path"]],
            "latest": Path(top["path"])}


def paper_values(experiment: str, split: str = "test") -> dict:
    """What claims.yaml says the paper reports for an experiment: {dataset, table, accuracy, f1_weighted}."""
    out: dict = {}
    for claim in load_claims()["claims"]:
        if claim.get("experiment") != experiment or claim.get("split", "test") != split:
            continue
        if claim["kind"] in ("accuracy", "f1_weighted"):
            out[claim["kind"]] = float(claim["value"])
            out.setdefault("dataset", claim.get("dataset"))
            out.setdefault("table", claim.get("table"))
    return out


def compare_with_paper(experiments: list[str], split: str = "test", extra_splits: tuple[str, ...] = ()) -> pd.DataFrame:
    """Every group of our complete runs (fer_lib.study.summary_table) beside the paper's values for it.

    Paper columns come from claims.yaml; `comparable` is "yes" only when our run used the real
    dataset the paper reports on. Experiments without a complete run get a row saying so.
    """
    from fer_lib.study import summary_table

    ours = summary_table(experiments, split)
    keys = ["experiment", "dataset", "profile", "budget"]
    for extra in extra_splits:
        more = summary_table(experiments, extra)
        if not more.empty:
            more = more[keys + ["accuracy %"]].rename(columns={"accuracy %": f"{extra} accuracy %"})
            ours = ours.merge(more, on=keys, how="left")
    ours = ours.drop(columns=["paper accuracy %"], errors="ignore")
    rows = []
    for experiment in experiments:
        paper = paper_values(experiment, split)
        mine = ours[ours["experiment"] == experiment] if not ours.empty else ours
        base = {"paper data": paper.get("dataset", ""), "paper accuracy %": paper.get("accuracy", ""),
                "paper weighted F1 %": paper.get("f1_weighted", ""), "paper table": paper.get("table", "")}
        if mine.empty:
            rows.append({"experiment": experiment, "dataset": "no complete run", **base, "comparable": "no run"})
            continue
        for _, row in mine.iterrows():
            real = "embedded" not in str(row["dataset"])
            comparable = "yes" if real and row["dataset"] == paper.get("dataset") else \
                ("no: " + SYNTHETIC if not real else "no: different data" if paper else "no paper value")
            rows.append({**row.to_dict(), **base, "comparable": comparable})
    table = pd.DataFrame(rows)
    first = [c for c in ours.columns if c in table.columns]
    return tidy(table[first + [c for c in table.columns if c not in first]])


def grid_table(grid: dict[str, dict[str, str]], split: str = "test") -> pd.DataFrame:
    """A paper table as a grid: rows (variant label) x datasets, each cell an experiment name.

    Long format: variant, dataset, experiment, our data, n, accuracy %, paper accuracy % (claims.yaml,
    only where the paper reports that cell), and whether our number is on the paper's data.
    """
    rows = []
    for variant, cells in grid.items():
        for dataset, experiment in cells.items():
            ours = headline(experiment, split)
            paper = paper_values(experiment, split)
            rows.append({"variant": variant, "dataset": dataset, "experiment": experiment,
                         "our data": ours["data"] if ours else "no complete run",
                         "profile": ours["profile"] if ours else "", "epochs": ours["epochs"] if ours else "",
                         "n": ours["n"] if ours else 0,
                         "accuracy %": round(ours["accuracy"], 2) if ours and ours["accuracy"] == ours["accuracy"] else np.nan,
                         "paper accuracy %": paper.get("accuracy", np.nan) if paper.get("dataset") == dataset else np.nan,
                         "on paper's data": bool(ours and ours["real"] and ours["data"] == dataset)})
    return pd.DataFrame(rows)


def grid_wide(long: pd.DataFrame) -> pd.DataFrame:
    """The long grid as variant x dataset with 'ours' and 'paper' columns per dataset (synthetic marked *)."""
    def cell(row) -> str:
        if row["n"] == 0 or row["accuracy %"] != row["accuracy %"]:
            return "-"
        return f"{row['accuracy %']:.2f}" + ("" if row["on paper's data"] else "*")

    table = long.assign(ours=long.apply(cell, axis=1))
    wide = table.pivot(index="variant", columns="dataset", values=["ours", "paper accuracy %"])
    wide = wide.reindex(index=list(dict.fromkeys(long["variant"])))
    wide.columns = [f"{ds} {'ours' if kind == 'ours' else 'paper'}" for kind, ds in wide.columns]
    order = [f"{ds} {k}" for ds in dict.fromkeys(long["dataset"]) for k in ("ours", "paper")]
    return wide[order].fillna("-").reset_index()


def variant_params(variants: dict[str, dict], model: str = "swin_spst_ema", num_classes: int = 7) -> pd.DataFrame:
    """Parameters of each model variant (built here) beside the paper's count (fer_lib.models.paper_figures)."""
    from fer_lib.models import count_params, create_model
    from fer_lib.models.paper_figures import PAPER_FIGURES

    rows = []
    for label, options in variants.items():
        set_options = {k: v for k, v in options.items() if v is not None}
        paper = next((f for f in PAPER_FIGURES if (f.model == model and f.options == set_options)
                      or (not set_options and f.model == "swin_t" and model == "swin_spst_ema")), None)
        rows.append({"variant": label, "options": str(set_options or "none"),
                     "params (ours)": count_params(create_model(model, num_classes=num_classes, **options)),
                     "params (paper)": paper.params if paper and paper.params else np.nan,
                     "paper source": paper.source if paper else ""})
    return tidy(pd.DataFrame(rows))


def paper_class_values(experiment: str, kind: str, split: str = "test") -> dict[str, float]:
    """Per-class values claims.yaml holds for an experiment ({class: value}; kind recall or class_error)."""
    return {c["class"]: float(c["value"]) for c in load_claims()["claims"]
            if c.get("experiment") == experiment and c["kind"] == kind and c.get("split", "test") == split}


def per_class_recall(experiments: list[str], split: str = "test") -> pd.DataFrame:
    """Recall % per class of each experiment's headline latest run, with the paper's per-class claims beside."""
    rows = []
    for experiment in experiments:
        ours = headline(experiment, split)
        if ours is not None:
            metrics = load_run(ours["latest"]).metrics.get(split, {})
            row = {"experiment": experiment, "data": ours["data"], "run": ours["latest"].name}
            row.update({c: round(100 * v["recall"], 1) for c, v in metrics.get("per_class", {}).items()})
            rows.append(row)
        paper = paper_class_values(experiment, "recall", split)
        paper.update({c: round(100 - v, 1) for c, v in paper_class_values(experiment, "class_error", split).items()})
        if paper:
            rows.append({"experiment": experiment, "data": f"paper ({paper_values(experiment, split).get('dataset', '')})",
                         "run": "claims.yaml", **paper})
    table = pd.DataFrame(rows)
    from fer_lib.data import CANONICAL_CLASSES

    meta = [c for c in ("experiment", "data", "run") if c in table.columns]
    return table[meta + [c for c in CANONICAL_CLASSES if c in table.columns]]


def runs_overview(run_dirs) -> pd.DataFrame:
    """One row per run: experiment, run id, data, profile, epochs, where its weights came from, device, test accuracy."""
    rows = []
    for run_dir in run_dirs:
        run = load_run(run_dir)
        m = run.manifest
        rows.append({"experiment": run.experiment, "run": run.path.name, "data": data_label(m), "profile": m.get("profile"),
                     "epochs run": m.get("epochs_run"), "pretrained": m.get("pretrained"), "device": m.get("device"),
                     "wall s": m.get("wall_s"),
                     "test accuracy %": round(100 * run.metrics["test"]["accuracy"], 2) if "test" in run.metrics else None})
    return pd.DataFrame(rows)


def usable_run(experiments: list[str], data_dir=None, real_first: bool = True):
    """The newest complete run (real data first) among `experiments` whose dataset can be rebuilt here.

    Returns (run_dir, dataset, uncapped split indices) or None; runs whose data are missing are passed over.
    """
    from fer_lib.study import latest_runs

    for experiment in experiments:
        for run_dir in latest_runs(experiment, real_first=real_first):
            if not (run_dir / "checkpoints" / "best.pt").exists():
                continue
            try:
                dataset, indices = run_dataset(run_dir, data_dir, capped=False)
            except (FileNotFoundError, ValueError):
                continue
            return run_dir, dataset, indices
    return None


# ---------------------------------------------------------------- a run's own images

def run_dataset(run_dir: str | Path, data_dir=None, capped: bool = True):
    """(dataset, split indices) of a run, rebuilt from its manifest (same config and seed, sha256 checked).

    capped=False ignores data.max_samples (smoke caps): the uncapped splits are still disjoint, so
    the uncapped test split holds no image the run trained or selected on.
    """
    from fer_lib.data import load_dataset, split_indices
    from fer_lib.train import limit_indices

    run = load_run(run_dir)
    cfg, seed = run.config, int(run.manifest["seed"])
    dataset = load_dataset(cfg["data"]["dataset"], data_dir or recorded_data_dir(run.manifest),
                           **(cfg["data"]["options"] or {}))
    expected = run.manifest.get("dataset", {}).get("sha256")
    if expected and dataset.sha256 != expected:
        raise ValueError(f"{dataset.name} at {dataset.source} has sha256 {dataset.sha256[:12]}..., but run "
                         f"{run.path.name} was trained on {expected[:12]}...: point data_dir at the same files")
    indices = split_indices(dataset, split_spec(cfg), seed)
    if capped:
        indices = limit_indices(indices, cfg["data"]["max_samples"], seed)
    return dataset, indices


def split_predictions(run_dir: str | Path, split: str = "test", data_dir=None) -> dict:
    """A run's recorded predictions on a split with the images they were made on.

    Returns {images, labels, preds, probs, class_names, indices}; images come from the dataset
    rebuilt from the manifest (the predictions file stores dataset row indices).
    """
    run = load_run(run_dir)
    preds = run.predictions(split)
    dataset, _ = run_dataset(run_dir, data_dir)
    class_names = list(run.manifest["dataset"]["class_names"])
    index = preds["index"].to_numpy()
    if not np.array_equal(dataset.labels[index], preds["label"].to_numpy()):
        raise ValueError(f"{run.path}: predictions_{split}.csv labels do not match the rebuilt dataset")
    probs = preds[[f"prob_{c}" for c in class_names]].to_numpy()
    return {"images": dataset.images[index], "labels": preds["label"].to_numpy(), "preds": preds["pred"].to_numpy(),
            "probs": probs, "class_names": class_names, "indices": index}


def misclassified_figure(run_dir: str | Path, split: str = "test", data_dir=None, short: bool = False, n: int = 16,
                         seed: int = 0, title: str | None = None):
    """Gallery of a run's misclassified images on a split ("True>Pred", two-letter codes when `short`)."""
    from fer_lib.evaluate import plot_misclassified

    data = split_predictions(run_dir, split, data_dir)
    fig = plot_misclassified(data["images"], data["labels"], data["preds"], data["class_names"], n=n, seed=seed,
                             probs=data["probs"], short=short)
    manifest = load_run(run_dir).manifest
    fig.suptitle(title or f"{manifest['experiment']} · {data_label(manifest)} · misclassified ({split})", fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- P2's bubble chart

def epoch_time_table(experiments: dict[str, str], split: str = "test") -> pd.DataFrame:
    """Per labelled experiment ({label: experiment}): median epoch time, parameters, accuracy, paper's accuracy."""
    rows = []
    for label, experiment in experiments.items():
        ours = headline(experiment, split)
        if ours is None:
            rows.append({"label": label, "experiment": experiment, "data": "no complete run"})
            continue
        run = load_run(ours["latest"])
        epoch_s = pd.to_numeric(run.history.get("epoch_s"), errors="coerce").dropna()
        rows.append({"label": label, "experiment": experiment, "data": ours["data"], "n": ours["n"],
                     "params": ours["params"], "median epoch s": float(epoch_s.median()) if len(epoch_s) else np.nan,
                     "device": run.manifest.get("device", ""), "accuracy %": round(ours["accuracy"], 2),
                     "paper accuracy %": paper_values(experiment, split).get("accuracy", np.nan)})
    columns = ["label", "experiment", "data", "n", "params", "median epoch s", "device", "accuracy %", "paper accuracy %"]
    return pd.DataFrame(rows, columns=columns)


def plot_bubbles(table: pd.DataFrame, x: str = "median epoch s", y: str = "accuracy %", size: str = "params",
                 label: str = "label", title: str = ""):
    """Bubble chart (P2 Fig 2.7): x epoch time, y accuracy, bubble area proportional to `size`."""
    import matplotlib.pyplot as plt

    data = table.dropna(subset=[x, y, size])
    fig, ax = plt.subplots(figsize=(7, 5))
    if data.empty:
        ax.text(0.5, 0.5, "no complete runs", ha="center", va="center", transform=ax.transAxes)
        return fig
    area = 1500.0 * data[size].astype(float) / float(data[size].max())
    ax.scatter(data[x], data[y], s=area, alpha=0.45, color="tab:green", edgecolor="k")
    for _, row in data.iterrows():
        ax.annotate(f"{row[label]}\n{row[size] / 1e6:.2f} M", (row[x], row[y]), ha="center", va="center", fontsize=8)
    ax.set_xlabel(f"{x} (our device)")
    ax.set_ylabel(y)
    ax.margins(0.2)
    ax.grid(alpha=0.3)
    ax.set_title(title or "accuracy vs epoch time, bubble area = parameters")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- notes

def write_note(section: str, *, profile: str, data_dir=None, trained: pd.DataFrame | None = None,
               plan: pd.DataFrame | None = None, lines: list[str] = ()) -> Path:
    """Save the section's note: profile and data, what ran, what did not and why, plus `lines`.

    `plan` (from data_plan) adds one line per paper dataset that is not available here, with the reason.
    """
    text = [f"**Profile** `{profile}`" + (": embedded synthetic data with tiny budgets (pipeline check; the numbers "
                                          f"are {SYNTHETIC})." if profile == "smoke" else "."),
            f"**Data dir** `{data_dir or 'default ($FER_DATA_DIR or ./data)'}`."]
    if trained is not None and not trained.empty:
        done = trained[trained["status"] == "complete"]
        if len(done):
            text.append("**Trained here**: " + "; ".join(
                f"{r.experiment} ({r.dataset}, seed {r.seed}{', ' + r.why if r.why else ''})" for r in done.itertuples()))
        other = trained[trained["status"] != "complete"]
        for (status, why), group in other.groupby(["status", "why"], sort=False):
            text.append(f"**{status.capitalize()}** ({why}): {', '.join(group['experiment'])}")
    if plan is not None and not plan.empty:
        missing = plan[plan["paper's dataset here"] != "available"]
        for dataset, group in missing.groupby("paper's dataset", sort=False):
            reason = group["paper's dataset here"].iloc[0]
            text.append(f"**{dataset}** ({', '.join(group['experiment'])}): {reason}")
    text += list(lines)
    return outputs.save_note(section, "\n\n".join(text))
