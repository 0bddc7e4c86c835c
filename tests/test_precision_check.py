"""bf16 against fp32 on one recipe: the early-epochs check and the complete-run check, on worked numbers;
P3 Table 1 beside each variant's report as mean ± std over seeds."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fer_lib.config import load_config
from fer_lib.study.precision import EARLY_EPOCH, precision_check, precision_runs
from fer_lib.study.tables import p3_table1_beside

CONFIG = load_config("p3_resnet50_weighted", "full")


def _run(tmp_path, precision: str, seed: int, val_at_5: float, *, epochs: int = 40, test: float = 0.55,
         config: dict | None = None) -> dict:
    run = tmp_path / f"{precision}-s{seed}-{epochs}"
    run.mkdir()
    history = pd.DataFrame({"epoch": range(1, min(epochs, 8) + 1), "val_acc": 0.3})
    history.loc[history["epoch"] == EARLY_EPOCH, "val_acc"] = val_at_5
    history.to_csv(run / "history.csv", index=False)
    manifest = {"experiment": "p3_resnet50_weighted", "seed": seed, "precision": precision, "config": config or CONFIG,
                "epochs": epochs, "epochs_override": None if epochs == 40 else epochs, "recipe_epochs": 40,
                "epochs_run": min(epochs, 8), "finished": f"2026-12-0{seed + 1}", "device": "cpu",
                "dataset": {"name": "fer2013", "real": True}}
    return {"manifest": manifest, "metrics": {"test": {"accuracy": test}}, "run_dir": run}


def test_early_epochs_overlap_and_complete_run_within_two_std(tmp_path):
    runs = [_run(tmp_path, "bfloat16", s, v, test=t) for s, v, t in ((0, 0.48, 0.56), (1, 0.50, 0.55), (2, 0.49, 0.57))]
    runs += [_run(tmp_path, "float32", s, v, epochs=5) for s, v in ((0, 0.485), (1, 0.495), (2, 0.51))]
    table = precision_runs("p3_resnet50_weighted", runs)
    assert len(table) == 6 and set(table["precision"]) == {"bf16", "fp32"}
    assert table.loc[table["precision"] == "fp32", "test acc %"].isna().all()  # short runs have no test verdict
    summary, text = precision_check(table)
    bf16 = summary.set_index("precision").loc["bf16"]
    assert bf16[f"val acc @ {EARLY_EPOCH} % mean"] == pytest.approx(49.0)
    assert bf16["test acc % mean"] == pytest.approx(56.0) and bf16["full runs"] == 3
    assert "intervals overlap" in text and "no full-budget fp32 run yet" in text

    runs.append(_run(tmp_path, "float32", 0, 0.48, test=0.571))  # a complete fp32 run, newer for seed 0
    _, text = precision_check(precision_runs("p3_resnet50_weighted", runs))
    assert "test accuracy 57.10" in text and "within mean ± 2 std [54.00, 58.00]" in text
    _, text = precision_check(precision_runs("p3_resnet50_weighted", runs[:-1] + [_run(tmp_path, "float32", 1, 0.5, test=0.60)]))
    assert "outside mean ± 2 std" in text


def test_too_few_seeds_or_another_recipe_is_not_a_comparison(tmp_path):
    runs = [_run(tmp_path, "bfloat16", s, 0.5) for s in range(3)] + [_run(tmp_path, "float32", 0, 0.3, epochs=5)]
    _, text = precision_check(precision_runs("p3_resnet50_weighted", runs))
    assert "not yet (3 bf16 and 1 fp32 seeds of the 3 needed)" in text
    other = json.loads(json.dumps(CONFIG))
    other["optim"]["lr"] = 0.01  # another recipe: its runs never enter the comparison
    runs = runs[:3] + [_run(tmp_path, "float32", s, 0.9, epochs=6, config=other) for s in range(3)]
    _, text = precision_check(precision_runs("p3_resnet50_weighted", runs))
    assert "No fp32 run of this recipe yet" in text
    assert precision_check(precision_runs("p3_resnet50_weighted", []))[1].startswith("No full-budget")


def test_table1_beside_each_variant_as_mean_and_std(tmp_path):
    def write(name: str, recall_disgust: float) -> object:
        run = tmp_path / name
        run.mkdir()
        per_class = {"Disgust": {"precision": 0.6, "recall": recall_disgust, "f1": 0.55, "support": 111}}
        metrics = {"test": {"per_class": per_class, "accuracy": 0.55, "f1_macro": 0.54, "f1_weighted": 0.55, "n": 7178}}
        (run / "manifest.json").write_text(json.dumps({"experiment": "x", "status": "complete"}))
        (run / "metrics.json").write_text(json.dumps(metrics))
        return run

    weighted = [write("w0", 0.50), write("w1", 0.54)]
    table = p3_table1_beside({"weighted": weighted, "resampled": [write("r0", 0.40)], "none": []}).set_index("class")
    assert table.loc["Disgust", "paper recall"] == 0.51
    assert table.loc["Disgust", "weighted recall (n=2)"] == "0.52 ± 0.03"
    assert table.loc["Disgust", "resampled recall (n=1)"] == "0.40"
    assert table.loc["Disgust", "our support"] == 111 and table.loc["accuracy", "weighted F1 (n=2)"] == "0.55 ± 0.00"
    assert not any(column.startswith("none") for column in table.columns)
