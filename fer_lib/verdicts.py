"""Claim by claim: the paper's number, ours (mean ± std over seeds, n), the gap, and a verdict.

Claims are data (`fer_lib/claims/claims.yaml`). Run-based claims read only the run records under
results/runs (manifest.json + metrics.json); a run counts only when it is complete and trained on
the real dataset the claim names. Model-size claims are measured on the model built by the zoo.

Verdicts:
    reproduced                 |ours - paper| <= tolerance
    exceeded                   ours - paper > tolerance (the claim holds and more)
    not reproduced             paper - ours > tolerance, at the paper's budget and weights
    inconclusive               a real run exists but under other conditions (why): a reduced budget, or from
                               scratch against an ImageNet-pretrained claim, or another device class for speed
    not run                    no qualifying run, with the reason (dataset unavailable, budget)
    consistent by construction the figure matches because we fitted an unstated choice to it (claim `construction`)

A run counts once: the latest complete run per (experiment, dataset, seed); n is the number of distinct
seeds, and a verdict needs every seed the experiment's recipe lists (else inconclusive, "k of n seeds"). Tolerances are shown as the absolute value applied, with the rule that gave it: for accuracy-type
claims the larger of the fixed tolerance and the 95 % interval of our mean from seed spread and test-set
sampling (uncertainty_tolerance), stated here before the first full P3 verdict.

Every run-based claim is judged twice: on the official test set, and on its cleaned view (`verdict_cleaned`):
the same runs' recorded predictions without the test images that have a train (near-)duplicate or a
conflicting-label twin (fer_lib.data.audit), under the same rule on the images left.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from fer_lib.claims import CLAIMS_PATH, load_claims  # noqa: F401  (re-exported: verdicts.load_claims)
from fer_lib.comparisons import ci95, judge_difference
from fer_lib.config import load_config
from fer_lib.data import audit
from fer_lib.data.explore import try_load
from fer_lib.evaluate import compute_metrics
from fer_lib.records import at_full_budget, one_run_per_seed, run_budget, stored_config
from fer_lib.testset_checks import difference_checks


RUN_KINDS = ("accuracy", "f1_weighted", "f1_macro", "recall", "class_error")
CLEANED_VIEW = "cleaned (both)"   # fer_lib.data.audit.test_subsets: no train (near-)duplicate, no conflicting label
JUDGED = ("reproduced", "exceeded", "not reproduced")


def _tolerance(claim: dict) -> float:
    return float(claim.get("tolerance", load_claims()["defaults"]["tolerance"].get(claim["kind"], 0)))


def real_runs(root: Path | None = None) -> list[dict]:
    """Every complete run on real data: dicts with manifest, metrics and run_dir."""
    from fer_lib.records import list_runs, load_run

    table = list_runs(root=root)
    if table.empty:
        return []
    chosen = table[(table["status"] == "complete") & table["real_data"].fillna(False).astype(bool)]
    runs = [load_run(path) for path in chosen["path"]]
    return [{"manifest": r.manifest, "metrics": r.metrics, "run_dir": r.path} for r in runs if r.metrics]



def _metric(metrics: dict, claim: dict) -> float | None:
    split = metrics.get(claim.get("split", "test"))
    if split is None:
        return None
    kind = claim["kind"]
    if kind in ("recall", "class_error"):
        per_class = split["per_class"].get(claim["class"])
        if per_class is None:
            return None
        recall = 100.0 * per_class["recall"]
        return recall if kind == "recall" else 100.0 - recall
    return 100.0 * split[kind]


def verdict(paper: float, ours: float, tolerance: float) -> str:
    """reproduced / exceeded / not reproduced for a measured value."""
    gap = ours - paper
    if abs(gap) <= tolerance:
        return "reproduced"
    return "exceeded" if gap > 0 else "not reproduced"


@lru_cache(maxsize=None)
def _dataset_available(name: str, data_dir) -> tuple[bool, str]:
    from fer_lib.data import load_dataset

    try:
        load_dataset(name, data_dir=data_dir)
        return True, ""
    except (FileNotFoundError, ValueError) as err:
        return False, _reason_line(err)


def _reason_line(err: BaseException) -> str:
    """A loader's message on one line, up to the list of paths it looked for (the notebook shows those)."""
    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return text.split(" Looked for:")[0].rstrip(" .;:")


def _conditions(chosen: list[dict]) -> dict:
    """What a verdict was judged under: weights, epochs run vs recipe, seeds, device."""
    manifests = [r["manifest"] for r in chosen]
    weights = sorted({"from scratch" if str(m.get("pretrained", "")).startswith("none") else str(m.get("pretrained"))
                      for m in manifests})
    epochs = sorted({f"{m.get('epochs_run')}/{m.get('recipe_epochs')}" for m in manifests})
    return {"seeds": ",".join(str(m["seed"]) for m in manifests), "weights": "; ".join(weights),
            "epochs": ", ".join(epochs), "device": "; ".join(sorted({str(m.get("device")) for m in manifests})),
            "runs": ";".join(str(r["run_dir"]) for r in chosen)}


def judge_run_claim(claim: dict, runs: list[dict], data_dir=None) -> dict:
    """Our measurement of one run-based claim from the recorded real-data runs."""
    mine = [r for r in runs if r["manifest"]["experiment"] == claim["experiment"]
            and r["manifest"]["dataset"]["name"] == claim["dataset"] and _metric(r["metrics"], claim) is not None]
    if not mine:
        available, why = _dataset_available(claim["dataset"], None if data_dir is None else str(data_dir))
        reason = (f"dataset unavailable here ({why})" if not available
                  else "no real-data run recorded yet (GPU budget: see README)")
        return {"verdict": "not run", "why": reason, "n": 0}
    full = [r for r in mine if at_full_budget(r["manifest"])]
    chosen = one_run_per_seed(full or mine)  # prefer runs at the paper's budget
    per_seed, kfold = _per_seed_values(chosen, claim)
    numbers = np.array(list(per_seed.values()), dtype=float)
    mean = float(numbers.mean())
    std = float(numbers.std(ddof=1)) if len(numbers) > 1 else float("nan")
    paper = float(claim["value"])
    tol, rule = uncertainty_tolerance(claim, numbers, _test_size(chosen, claim))
    lo, hi = ci95(numbers)
    row = {"ours": mean, "ours_std": std, "ours_ci95": f"[{lo:.2f}, {hi:.2f}]" if len(numbers) > 1 else "",
           "n": len(numbers), "gap": mean - paper, "tolerance": tol, "tolerance_rule": rule, **_conditions(chosen)}
    why_not = _why_not_judged(claim, chosen, per_seed, kfold, at_full=bool(full))
    cleaned = _cleaned_columns(claim, chosen, judged=why_not is None, data_dir=data_dir)
    if why_not:
        return {**row, **cleaned, "verdict": "inconclusive", "why": why_not}
    judged, why = _judge(claim, chosen, paper, mean, tol)
    return {**row, **cleaned, "verdict": judged, "why": why or (f"mean over all {kfold} folds per seed" if kfold else "")}


def _why_not_judged(claim: dict, chosen: list[dict], per_seed: dict, kfold: int | None, at_full: bool) -> str | None:
    """Why runs that exist cannot be judged yet (a reduced budget, missing seeds or folds), or None."""
    if not at_full:
        allowed, recipe = max(run_budget(r["manifest"]) for r in chosen)
        return f"reduced budget: {allowed} of {recipe} epochs"
    expected = _expected_seeds(claim["experiment"])
    if expected and not expected <= set(per_seed):
        return (f"{len(set(per_seed) & expected)} of the recipe's {len(expected)} seeds complete "
                f"(seeds {','.join(map(str, sorted(expected)))})")
    if kfold:
        folds = {seed: sum(1 for r in chosen if r["manifest"]["seed"] == seed) for seed in per_seed}
        if min(folds.values()) < kfold:
            return f"cross-validation incomplete: {min(folds.values())} of {kfold} folds for some seed"
    return None


def _judge(claim: dict, chosen: list[dict], paper: float, mean: float, tol: float) -> tuple[str, str]:
    """The verdict of a full-budget measurement, with the one exception: from scratch against ImageNet weights."""
    judged = verdict(paper, mean, tol)
    scratch = all(str(r["manifest"].get("pretrained", "")).startswith("none") for r in chosen)
    if judged == "not reproduced" and scratch and _paper_weights(claim) == "imagenet":
        return "inconclusive", "ours from scratch, the paper's from ImageNet weights (none can be had here)"
    return judged, ""


@lru_cache(maxsize=8)
def cleaned_exclusions(dataset: str, data_dir: str | None) -> frozenset[int] | str:
    """Dataset indices of the test images the cleaned view leaves out (a train (near-)duplicate or a
    conflicting-label duplicate: fer_lib.data.audit), or why they cannot be known here."""
    ds, why = try_load(dataset, data_dir)
    if ds is None:
        return f"needs the {dataset} images for the audit ({why})"
    return frozenset(audit.test_subsets(ds, audit.audit_dataset(ds))[CLEANED_VIEW])


def metric_on_predictions(run: dict, claim: dict, excluded: frozenset[int] = frozenset()) -> tuple[float | None, int]:
    """(the claim's metric, images scored) recomputed from a run's recorded predictions on the claim's
    split, leaving out the `excluded` dataset indices; (None, 0) when the run recorded no predictions."""
    path = Path(run["run_dir"]) / f"predictions_{claim.get('split', 'test')}.csv"
    if not path.exists():
        return None, 0
    preds = pd.read_csv(path, usecols=["index", "label", "pred"])
    preds = preds[~preds["index"].isin(excluded)]
    metrics = compute_metrics(preds["label"].to_numpy(), preds["pred"].to_numpy(),
                              run["manifest"]["dataset"]["class_names"], n_bootstrap=0)
    return _metric({claim.get("split", "test"): metrics}, claim), len(preds)


def _cleaned_columns(claim: dict, chosen: list[dict], judged: bool, data_dir=None) -> dict:
    """The same claim on the cleaned test set (same runs, same tolerance rule on the images left), beside
    the official verdict; `judged` False when the runs cannot be judged yet (the same reason holds)."""
    excluded = cleaned_exclusions(claim["dataset"], None if data_dir is None else str(data_dir))
    if isinstance(excluded, str):
        return {"verdict_cleaned": "not run", "why_cleaned": excluded}
    scored = [metric_on_predictions(r, claim, excluded) for r in chosen]
    if any(value is None for value, _ in scored):
        return {"verdict_cleaned": "not run", "why_cleaned": "a run without recorded predictions"}
    by_seed: dict = {}
    for run, (value, _) in zip(chosen, scored):
        by_seed.setdefault(run["manifest"]["seed"], []).append(value)
    numbers = np.array([np.mean(values) for values in by_seed.values()], dtype=float)
    mean, images = float(numbers.mean()), scored[0][1]
    out = {"ours_cleaned": mean, "test_images_cleaned": images}
    if not judged:
        return {**out, "verdict_cleaned": "inconclusive", "why_cleaned": "as on the official test set"}
    per_class = claim["kind"] in ("recall", "class_error")
    tol, rule = uncertainty_tolerance(claim, numbers, None if per_class else images)
    cleaned, why = _judge(claim, chosen, float(claim["value"]), mean, tol)
    return {**out, "verdict_cleaned": cleaned, "why_cleaned": why or rule}


def _test_size(chosen: list[dict], claim: dict) -> int | None:
    """Images behind the claim's number on our side: the split's size, or the class's support for per-class kinds."""
    split = chosen[0]["metrics"].get(claim.get("split", "test"), {})
    if claim["kind"] in ("recall", "class_error"):
        return (split.get("per_class", {}).get(claim["class"]) or {}).get("support")
    return split.get("n")


def uncertainty_tolerance(claim: dict, values: np.ndarray, n_test: int | None) -> tuple[float, str]:
    """The tolerance an accuracy-type claim is judged with, fixed before any full P3 verdict: the larger of
    the claim's fixed tolerance and the half-width of a 95 % interval of our mean that combines the spread
    over k seeds (s) and test-set sampling (a proportion p on n images): 1.96 * sqrt(s^2/k + p(1-p)/n)."""
    fixed = _tolerance(claim)
    p = float(np.mean(values)) / 100
    seed_var = float(np.var(values / 100, ddof=1)) / len(values) if len(values) > 1 else 0.0
    test_var = p * (1 - p) / n_test if n_test else 0.0
    half = 100 * 1.96 * float(np.sqrt(seed_var + test_var))
    if half > fixed:
        return half, (f"95% interval of ours ({len(values)} seed(s), n={n_test}): ±{half:.2f} points, wider than "
                      f"the fixed ±{fixed:g}")
    return fixed, f"±{fixed:g} points (fixed; our 95% interval ±{half:.2f})"


def _expected_seeds(experiment: str) -> set[int]:
    """The seeds an experiment's full recipe runs (its config's `seeds`): a verdict needs all of them."""
    try:
        return {int(seed) for seed in load_config(experiment, "full")["seeds"]}
    except (FileNotFoundError, ValueError):
        return set()


def _per_seed_values(chosen: list[dict], claim: dict) -> tuple[dict, int | None]:
    """{seed: value} (a k-fold protocol's folds averaged within each seed) and k (None without folds)."""
    by_seed: dict = {}
    kfold = None
    for run in chosen:
        cfg = stored_config(run["manifest"]) if "data" in run["manifest"].get("config", {}) else {}
        spec = cfg.get("data", {}).get("splits") or {}
        kfold = int(spec["kfold"]) if "kfold" in spec else kfold
        by_seed.setdefault(run["manifest"]["seed"], []).append(_metric(run["metrics"], claim))
    return {seed: float(np.mean(values)) for seed, values in by_seed.items()}, kfold


def _paper_weights(claim: dict) -> str:
    """imagenet | scratch | unstated: how the paper initialised the model behind a claim."""
    return str(claim.get("paper_weights") or load_claims()["defaults"].get("paper_weights", {}).get(claim["paper"],
                                                                                                    "unstated"))


RELATIVE_KINDS = ("gflops", "gflops_saving", "fps_ratio", "param_ratio", "epoch_time_ratio")


def applied_tolerance(claim: dict) -> tuple[float, str]:
    """(absolute tolerance applied, its rule): relative kinds take a fraction of the paper's value."""
    if claim["kind"] == "difference":
        return float("nan"), "direction: paired t over seeds, one-sided p < 0.05 (McNemar per seed shown)"
    tol, paper = _tolerance(claim), float(claim["value"])
    if claim["kind"] in RELATIVE_KINDS:
        return tol * abs(paper), f"{100 * tol:g}% of the paper's value"
    unit = {"accuracy": " points", "f1_weighted": " points", "f1_macro": " points", "recall": " points",
            "class_error": " points", "params": " parameters"}.get(claim["kind"], "")
    return tol, ("exact" if tol == 0 else f"±{tol:g}{unit}") + (" (claim's own)" if "tolerance" in claim else "")


def _judge_measured(claim: dict, measure_model) -> dict:
    value, note = measure_model(claim)
    if value is None:
        return {"verdict": "not run", "why": note, "n": 0}
    paper = float(claim["value"])
    judged = verdict(paper, value, applied_tolerance(claim)[0])
    measured_on = getattr(measure_model, "device_type", None)
    if claim.get("device") and measured_on and measured_on != claim["device"]:
        judged, note = "inconclusive", f"{note}; the paper timed on {claim['device']}: speed is compared on the same device class only"
    elif claim.get("construction") and judged == "reproduced":
        judged, note = "consistent by construction", f"{note}; {claim['construction']}"
    return {"ours": value, "n": 1, "gap": value - paper, "verdict": judged, "why": note,
            "device": measured_on or ""}


def ordering_claims() -> list[dict]:
    """A `difference` claim for every ordering a paper asserts (claims.yaml `comparisons`): the claimed better
    experiment's accuracy over the claimed worse one's, on our runs trained under the same recipe."""
    claims = {c["id"]: c for c in load_claims()["claims"]}
    out = []
    for better_id, worse_id in load_claims()["comparisons"]:
        better, worse = claims[better_id], claims[worse_id]
        out.append({"id": f"{better_id} > {worse_id}", "paper": better["paper"], "table": better["table"],
                    "kind": "difference", "dataset": better["dataset"], "split": better.get("split", "test"),
                    "experiments": [better["experiment"], worse["experiment"]],
                    "value": round(float(better["value"]) - float(worse["value"]), 4)})
    return out


def claims_table(measure_model, runs: list[dict] | None = None, data_dir=None) -> pd.DataFrame:
    """Every claim with ours beside it. `measure_model(claim) -> (value, note)` measures size/speed claims."""
    runs = real_runs() if runs is None else runs
    resolvable = {f"{r.better} > {r.worse}": r.resolvable for r in difference_checks().itertuples()}
    rows = []
    for claim in [*load_claims()["claims"], *ordering_claims()]:
        tol, rule = applied_tolerance(claim)
        base = {"id": claim["id"], "paper": claim["paper"], "table": claim["table"],
                "claim_class": ("difference" if claim["kind"] == "difference" else
                                "accuracy" if claim["kind"] in RUN_KINDS else "architecture"),
                "dataset": claim.get("dataset", ""), "metric": claim["kind"] + (f" ({claim['class']})" if "class" in claim else ""),
                "paper_value": claim.get("value"), "tolerance": tol, "tolerance_rule": rule}
        if claim["kind"] in RUN_KINDS:
            base.update(judge_run_claim(claim, runs, data_dir))
        elif claim["kind"] == "difference":
            base.update(judge_difference(claim, runs), resolvable=resolvable.get(claim["id"], "no number published"))
        else:
            base.update(_judge_measured(claim, measure_model))
        rows.append(base)
    columns = ["id", "paper", "claim_class", "table", "dataset", "metric", "paper_value", "ours", "ours_std",
               "ours_ci95", "n",
               "gap", "tolerance", "tolerance_rule", "verdict", "why", "ours_cleaned", "test_images_cleaned",
               "verdict_cleaned", "why_cleaned", "resolvable", "seeds", "weights", "epochs",
               "device", "runs"]
    return pd.DataFrame(rows).reindex(columns=columns)


def headline(table: pd.DataFrame) -> str:
    """One sentence per claim class: accuracy claims and architecture (size / speed) claims apart."""
    parts = []
    for cls, group in table.groupby("claim_class", sort=True):
        counts = group["verdict"].value_counts()
        parts.append(f"{len(group)} {cls} claims: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    return "; ".join(parts) + "."


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Counts of verdicts per paper and claim class (accuracy apart from architecture)."""
    return table.pivot_table(index=["paper", "claim_class"], columns="verdict", values="id", aggfunc="count",
                             fill_value=0)


# ----------------------------------------------------------------------------- inconsistencies
def p3_support_sum(item: dict, data_dir=None) -> str:
    from fer_lib.data.paper_tables import P3_TABLE1_TEST_SUPPORT

    total = sum(P3_TABLE1_TEST_SUPPORT.values())
    printed = load_claims()["paper_tables"]["P3_table1_accuracy_support"]
    return f"class supports sum to {total:,}; accuracy row says {printed:,}"


def p4_entropy_max(item: dict, data_dir=None) -> str:
    original = load_claims()["paper_tables"]["P4_table3_entropy"]["original"].values()
    bound = math.log(224 * 224)
    return (f"original maps {min(original):.2f}-{max(original):.2f} nats vs uniform bound ln(224*224) = {bound:.2f}: "
            f"{100 * min(original) / bound:.0f}-{100 * max(original) / bound:.0f}% of maximum")


def p4_spst_gmacs(item: dict, data_dir=None) -> str:
    from fer_lib.complexity import count_flops
    from fer_lib.models import create_model

    base = count_flops(create_model("swin_spst_ema", spst_stage=None, ema_after=None), 224) / 2e9
    spst = count_flops(create_model("swin_spst_ema", spst_stage=4, ema_after=None), 224) / 2e9
    paper = {c["id"]: float(c["value"]) for c in load_claims()["claims"] if c.get("value") is not None}
    p_base, p_spst = paper["P4-gflops-base"], paper["P4-gflops-spst"]
    return (f"ours: Swin-T {base:.3f} -> SPST(4) {spst:.3f} GMACs (-{base - spst:.3f}); "
            f"P4: {p_base:.2f} -> {p_spst:.2f} (-{p_base - p_spst:.2f})")


def p1_table4_sums(item: dict, data_dir=None) -> str:
    from fer_lib.data.explore import p1_table4_comparison, try_load

    fer2013, _ = try_load("fer2013", data_dir)
    table = p1_table4_comparison(fer2013)
    return table.set_index("dataset").loc[item["row"], "finding"]


def inconsistencies_table(data_dir=None) -> pd.DataFrame:
    """The papers' internal inconsistencies, each with the arithmetic that shows it where one exists."""
    rows = []
    for item in load_claims()["inconsistencies"]:
        check = item.get("check")
        try:
            evidence = globals()[check](item, data_dir) if check else ""
        except (ImportError, AttributeError, FileNotFoundError, KeyError, ValueError) as err:
            evidence = f"(check unavailable: {err})"
        rows.append({"id": item["id"], "paper": item["paper"], "where": item["table"],
                     "finding": item["text"], "evidence": evidence})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- model-size / speed claims
class ModelMeasurer:
    """Measures size and speed claims on models built by the zoo (cached per model and options).

    GFLOPs claims are compared with GMACs: P4's Swin-T figure (4.51) matches a count in which one
    multiply-add is one operation, whereas torch.utils.flop_counter counts it as two.
    """

    def __init__(self, device: str = "cpu", measure_speed: bool = True, speed_repeats: int = 5,
                 runs: list[dict] | None = None):
        self.device, self.measure_speed, self.speed_repeats = device, measure_speed, speed_repeats
        self.runs = runs
        self._cache: dict = {}

    @property
    def device_type(self) -> str:
        """'cpu' or 'cuda': where speed claims are measured."""
        from fer_lib.devices import resolve_device

        return resolve_device(self.device).type

    def _model(self, name: str, options: dict):
        from fer_lib.models import create_model, model_spec

        key = (name, tuple(sorted((options or {}).items())))
        if key not in self._cache:
            self._cache[key] = (create_model(name, **(options or {})), model_spec(name).input_size)
        return self._cache[key]

    def _params(self, name: str, options: dict) -> int:
        from fer_lib.complexity import param_counts

        return param_counts(self._model(name, options)[0])["params"]

    def _fps(self, name: str, options: dict) -> float:
        from fer_lib.complexity import measure_inference

        model, size = self._model(name, options)
        return measure_inference(model, size, self.device, batch_sizes=(1,), warmup=2, repeats=self.speed_repeats)["fps_b1"]

    def __call__(self, claim: dict) -> tuple[float | None, str]:
        kind, name = claim["kind"], claim.get("model")
        if kind == "params":
            return float(self._params(name, claim.get("options", {}))), "parameters of the model built by fer_lib.models"
        if kind == "gflops":
            from fer_lib.complexity import count_flops

            model, size = self._model(name, claim.get("options", {}))
            return count_flops(model, size) / 2e9, f"GMACs at {size} px (multiply-add = 1)"
        if kind == "gflops_saving":
            from fer_lib.complexity import count_flops

            (with_it, size), (without, _) = (self._model(name, opts) for opts in claim["models"])
            return (count_flops(without, size) - count_flops(with_it, size)) / 2e9, \
                f"GMACs saved at {size} px (multiply-add = 1)"
        if kind == "param_ratio":
            first, second = claim["models"]
            return self._params(name, first) / self._params(name, second), "parameter ratio"
        if kind == "fps_ratio":
            if not self.measure_speed:
                return None, "speed not measured in this run of the notebook"
            first, second = claim["models"]
            from fer_lib.complexity import device_label
            from fer_lib.devices import resolve_device

            label = device_label(resolve_device(self.device))
            return self._fps(name, first) / self._fps(name, second), f"batch-1 FPS ratio on {label}"
        if kind == "epoch_time_ratio":
            return self._epoch_time_ratio(claim)
        raise ValueError(f"claim {claim['id']}: unknown kind {kind!r}")

    def _epoch_time_ratio(self, claim: dict) -> tuple[float | None, str]:
        runs = real_runs() if self.runs is None else self.runs
        times = {}
        for experiment in claim["experiments"]:
            mine = [r for r in runs if r["manifest"]["experiment"] == experiment]
            if not mine:
                return None, f"no real-data run of {experiment} yet"
            history = pd.read_csv(Path(mine[-1]["run_dir"]) / "history.csv")
            times[experiment] = (float(history["epoch_s"].median()), mine[-1]["manifest"]["device"])
        (t1, d1), (t2, d2) = (times[e] for e in claim["experiments"])
        if d1 != d2:
            return None, f"runs on different devices ({d1} vs {d2})"
        return t1 / t2, f"median epoch time on {d1}"
