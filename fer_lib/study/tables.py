"""The tables the notebooks show: our runs beside the papers' numbers, per class, per configuration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fer_lib.claims import load_claims
from fer_lib.claims.paper_figures import PAPER_FIGURES
from fer_lib.claims.paper_tables import P3_TABLE1_REPORT, P3_TABLE1_SUMMARY
from fer_lib.data import CANONICAL_CLASSES
from fer_lib.models import count_params, create_model
from fer_lib.runs.select import at_full_budget, counted_runs, verdict_runs
from fer_lib.runs.store import epoch_times_by_conditions, load_run, precision_name, timing_conditions
from fer_lib.study.setup import SYNTHETIC, data_label, tidy


def _paper_value(experiment: str, dataset: str, kind: str) -> float | None:
    for claim in load_claims()["claims"]:
        if claim.get("experiment") == experiment and claim.get("dataset") == dataset and claim["kind"] == kind:
            return float(claim["value"])
    return None


def mean_std(values: pd.Series, scale: float = 100) -> str:
    """`mean ± std` (sample std) of `values` x scale, to 2 decimals; the value alone for one, empty for none."""
    values = values.dropna() * scale
    if values.empty:
        return ""
    if len(values) == 1:
        return f"{values.iloc[0]:.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def summary_table(experiments: list[str], split: str = "test") -> pd.DataFrame:
    """All recorded complete runs of the experiments, grouped by (experiment, dataset, profile, budget, precision).

    The budget is the epochs each run was allowed against the recipe's (early stopping varies the epochs a run
    ran, listed per run in seed order, so runs at one budget pool however long each ran). Columns: our accuracy
    and weighted F1 on `split` as mean ± std over the group's runs (n and seeds stated), every device the group
    ran on, and the paper's value where it claims one for that dataset. Synthetic-data rows are labelled and
    carry no paper value.
    """
    return _summary_rows(experiments, split).drop(columns=["full budget"], errors="ignore")


def _summary_rows(experiments: list[str], split: str) -> pd.DataFrame:
    """summary_table with a `full budget` column (the group was allowed the recipe's whole epoch budget)."""
    runs = counted_runs(list(experiments)).copy()
    if runs.empty:
        return pd.DataFrame(columns=["experiment", "dataset", "profile", "budget", "precision", "epochs run", "n", "seeds",
                                     "accuracy %", "weighted F1 %", "paper accuracy %", "device", "train img/s"])
    manifests = [load_run(p).manifest for p in runs["path"]]
    runs["budget"] = [_budget(m) for m in manifests]
    runs["precision"] = [precision_name(m) for m in manifests]
    runs["full budget"] = [at_full_budget(m) for m in manifests]
    runs["timed on"] = [timing_conditions(m) for m in manifests]
    rows = []
    keys = ["experiment", "dataset", "profile", "budget", "precision"]
    for (experiment, dataset, profile, budget, precision), group in runs.groupby(keys, sort=False):
        group = group.sort_values("seed")
        real = bool(group["real_data"].iloc[0])
        paper = _paper_value(experiment, dataset, "accuracy") if real else None
        rows.append({
            "experiment": experiment, "dataset": dataset if real else f"{dataset} (embedded, not the paper's data)",
            "profile": profile, "budget": budget, "precision": precision,
            "epochs run": ", ".join(_count(e) for e in group["epochs_run"]), "n": len(group),
            "seeds": ",".join(_count(seed) for seed in group["seed"]),
            "accuracy %": mean_std(group.get(f"{split}_accuracy", pd.Series(dtype=float))),
            "weighted F1 %": mean_std(group.get(f"{split}_f1_weighted", pd.Series(dtype=float))),
            "paper accuracy %": paper if paper is not None else "",
            "device": "; ".join(dict.fromkeys(str(d) for d in group["device"])),
            "train img/s": _img_per_s(group),
            "full budget": bool(group["full budget"].all()),
        })
    return pd.DataFrame(rows)


def _img_per_s(group: pd.DataFrame) -> str:
    """The group's training speed: the median when its runs were timed under one condition (timing_conditions),
    else each run's own, in seed order (a median across machines or thread counts would measure neither)."""
    speeds = pd.to_numeric(group["train_img_per_s"], errors="coerce")
    if group["timed on"].nunique() <= 1:
        return "-" if speeds.isna().all() else f"{speeds.median():.1f}"
    return " · ".join("-" if pd.isna(v) else f"{v:.1f}" for v in speeds) + f" ({group['timed on'].nunique()} conditions)"


def _count(value) -> str:
    """A whole number as the manifests hold it ("22", not the "22.0" a column with a gap turns it into); "-" when missing."""
    return "-" if pd.isna(value) else str(int(value))


def _budget(manifest: dict) -> str:
    """"40 allowed / 40 recipe": the epochs a run was allowed (an override's, else the config's) and the recipe's."""
    allowed = manifest.get("epochs_override") or manifest.get("epochs")
    return f"{allowed} allowed / {manifest.get('recipe_epochs')} recipe"


def per_class_table(run_dir: Path, split: str = "test", digits: int | None = 2) -> pd.DataFrame:
    """Per-class precision / recall / F1 / support of a run's split (sklearn's classification report), rounded
    to `digits` (None: as recorded)."""
    metrics = load_run(run_dir).metrics[split]

    def rounded(value):
        return round(value, digits) if digits is not None and isinstance(value, float) else value

    rows = [{"class": name, **{k: rounded(v) for k, v in values.items()}} for name, values in metrics["per_class"].items()]
    table = pd.DataFrame(rows)
    summary = pd.DataFrame([{"class": "accuracy", "f1": rounded(metrics["accuracy"]), "support": metrics["n"]},
                            {"class": "macro avg", "f1": rounded(metrics["f1_macro"]), "support": metrics["n"]},
                            {"class": "weighted avg", "f1": rounded(metrics["f1_weighted"]), "support": metrics["n"]}])
    return pd.concat([table, summary], ignore_index=True)


def p3_table1_beside(variants: dict[str, list[Path]], split: str = "test") -> pd.DataFrame:
    """P3 Table 1 (the class-weighted model's report on the 7,178 test images) beside each variant's report:
    per-class precision, recall and F1 as mean ± std over the variant's runs (one per seed; the value alone
    for one run), and the support of our split."""
    rows = [{"class": name, "paper precision": p, "paper recall": r, "paper F1": f, "paper support": n}
            for name, (p, r, f, n) in P3_TABLE1_REPORT.items()]
    rows += [{"class": name, "paper F1": f} for name, f in P3_TABLE1_SUMMARY.items()]
    table = pd.DataFrame(rows)
    for variant, run_dirs in variants.items():
        if not run_dirs:
            continue
        reports = pd.concat([per_class_table(run_dir, split, digits=None) for run_dir in run_dirs])
        grouped = reports.groupby("class", sort=False)
        ours = pd.DataFrame({f"{variant} {label} (n={len(run_dirs)})": grouped[column].agg(mean_std, scale=1)
                             for column, label in (("precision", "precision"), ("recall", "recall"), ("f1", "F1"))})
        if "our support" not in table:
            table = table.merge(grouped["support"].first().rename("our support"), left_on="class", right_index=True,
                                how="outer")
        table = table.merge(ours, left_on="class", right_index=True, how="outer")
    return table


def headline(experiment: str, split: str = "test") -> dict | None:
    """The runs that speak for an experiment and their mean metrics on `split`.

    When the experiment has verdict runs (runs.select.verdict_runs: real data, the recipe's full budget,
    the latest of each seed), those are the group and the newest of them is `latest`. Otherwise (smoke
    or synthetic runs, short side runs only): real data before synthetic, the full profile, the largest
    epoch budget, then the newest. Returns None when there is no complete run.
    """
    runs = counted_runs(experiment).copy()
    if runs.empty:
        return None
    runs["real"] = runs["real_data"].fillna(False).astype(bool)
    manifests = {p: load_run(p).manifest for p in runs["path"]}
    runs["allowed"] = [int(manifests[p].get("epochs_override") or manifests[p].get("epochs") or 0) for p in runs["path"]]
    runs["is_full"] = runs["profile"] == "full"
    counted = {str(Path(path).resolve()) for path in verdict_runs(experiment)}
    in_verdict = runs["path"].map(lambda path: str(Path(path).resolve()) in counted)
    if in_verdict.any():
        group = runs[in_verdict].sort_values("started", ascending=False)
        top = group.iloc[0]
    else:
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

    Paper columns come from claims.yaml; `comparable` is "yes" only when our runs used the real
    dataset the paper reports on at the recipe's whole epoch budget. Experiments without a complete run get a
    row saying so.
    """

    ours = _summary_rows(experiments, split)
    keys = ["experiment", "dataset", "profile", "budget", "precision"]
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
            if comparable == "yes" and not row["full budget"]:
                comparable = f"no: reduced budget ({row['budget']})"
            rows.append({**row.drop("full budget").to_dict(), **base, "comparable": comparable})
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
    """Parameters of each model variant (built here) beside the paper's count (fer_lib.claims.paper_figures)."""

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
    """Recall % per class of each experiment's headline runs (mean over them, one per seed for verdict runs),
    with the paper's per-class claims beside."""
    rows = []
    for experiment in experiments:
        ours = headline(experiment, split)
        if ours is not None:
            recorded = [load_run(r) for r in ours["runs"]]
            recorded = [r for r in recorded if r.metrics.get(split, {}).get("per_class")]
            recalls = pd.DataFrame([{c: 100 * v["recall"] for c, v in r.metrics[split]["per_class"].items()}
                                    for r in recorded])
            seeds = ",".join(str(seed) for seed in sorted(r.manifest.get("seed", 0) for r in recorded))
            label = (ours["latest"].name if len(recorded) <= 1
                     else f"mean of {len(recorded)} runs (seeds {seeds})")
            rows.append({"experiment": experiment, "data": ours["data"], "run": label, **recalls.mean().round(1).to_dict()})
        paper = paper_class_values(experiment, "recall", split)
        paper.update({c: round(100 - v, 1) for c, v in paper_class_values(experiment, "class_error", split).items()})
        if paper:
            rows.append({"experiment": experiment, "data": f"paper ({paper_values(experiment, split).get('dataset', '')})",
                         "run": "claims.yaml", **paper})
    table = pd.DataFrame(rows)

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


def epoch_time_table(experiments: dict[str, str], split: str = "test") -> pd.DataFrame:
    """Per labelled experiment ({label: experiment}): median epoch time, parameters, accuracy, paper's accuracy.

    Accuracy is the mean over the n runs that speak for the experiment (headline); the epoch time is the median
    over those of them timed under the newest one's conditions (`timed runs`, `timed on`: device, instruction set,
    precision), since an epoch time pooled across machines would measure none of them.
    """
    rows = []
    for label, experiment in experiments.items():
        ours = headline(experiment, split)
        if ours is None:
            rows.append({"label": label, "experiment": experiment, "data": "no complete run",
                         "paper accuracy %": paper_values(experiment, split).get("accuracy", np.nan)})
            continue
        runs = {path: load_run(path) for path in ours["runs"]}
        timed_on = timing_conditions(runs[ours["latest"]].manifest)
        epoch_s = epoch_times_by_conditions([(run.manifest, run.history) for run in runs.values()]).get(timed_on, [])
        rows.append({"label": label, "experiment": experiment, "data": ours["data"], "n": ours["n"],
                     "params": ours["params"], "median epoch s": float(np.median(epoch_s)) if epoch_s else np.nan,
                     "timed runs": len(epoch_s), "timed on": timed_on, "accuracy %": round(ours["accuracy"], 2),
                     "paper accuracy %": paper_values(experiment, split).get("accuracy", np.nan)})
    columns = ["label", "experiment", "data", "n", "params", "median epoch s", "timed runs", "timed on", "accuracy %",
               "paper accuracy %"]
    return pd.DataFrame(rows, columns=columns)
