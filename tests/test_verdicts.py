"""Verdicts come only from complete real-data runs, with mean ± std over seeds and honest budgets."""

from __future__ import annotations

import json
import math

import pytest

from fer_lib.claims import load_claims
from fer_lib.study import cleaned, inconsistencies, judging, measure, verdicts
from fer_lib.study.measure import ModelMeasurer
from fer_lib.paths import PROJECT_ROOT, results_dir
from fer_lib.runs.store import timing_conditions

CLAIM = {"id": "X", "paper": "P3", "table": "T1", "dataset": "fer2013", "split": "test", "kind": "accuracy",
         "value": 55.0, "experiment": "p3_resnet50_weighted"}


def _write_run(name: str, seed: int, accuracy: float, real: bool = True, status: str = "complete",
               epochs: int = 40, override: int | None = None, recall_disgust: float = 0.5,
               precision: str = "float32", ran: int | None = None) -> None:
    run = results_dir() / "runs" / "p3_resnet50_weighted" / name
    run.mkdir(parents=True)
    manifest = {"experiment": "p3_resnet50_weighted", "run_id": name, "paper": "P3", "profile": "full",
                "status": status, "seed": seed, "dataset": {"name": "fer2013" if real else "synthetic", "real": real},
                "recipe_epochs": 40, "epochs": override or epochs, "epochs_override": override,
                "epochs_run": ran or override or epochs,
                "pretrained": "none: trained from scratch", "device": "cpu", "precision": precision,
                "config": {"model": {"name": "resnet50"}}}
    metrics = {"test": {"accuracy": accuracy, "f1_weighted": accuracy, "f1_macro": accuracy, "n": 7178,
                        "per_class": {"Disgust": {"precision": 0.5, "recall": recall_disgust, "f1": 0.5, "support": 3}}}}
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture()
def seeds_present(monkeypatch):
    """For tests about other rules: the recipe asks for no particular seeds (see test_every_recipe_seed_...)."""
    monkeypatch.setattr(verdicts, "recipe_seeds", lambda experiment: set())


def test_verdict_boundaries():
    assert judging.verdict(55.0, 56.9, 2.0, "accuracy") == "reproduced"
    assert judging.verdict(55.0, 53.0, 2.0, "accuracy") == "reproduced"
    assert judging.verdict(55.0, 52.9, 2.0, "accuracy") == "not reproduced"
    assert judging.verdict(55.0, 57.5, 2.0, "accuracy") == "exceeded"


def test_exceeded_only_on_the_claims_better_side():
    # A per-class error above the paper's is worse, below it better.
    assert judging.verdict(95.3, 99.0, 2.0, "class_error") == "not reproduced"
    assert judging.verdict(95.3, 80.0, 2.0, "class_error") == "exceeded"
    # Sizes and cost ratios have no better side: a gap either way is a mismatch.
    for kind in ("params", "gflops", "gflops_saving", "param_ratio", "epoch_time_ratio"):
        assert judging.verdict(1.56, 2.18, 0.234, kind) == "not reproduced"
        assert judging.verdict(1.56, 1.0, 0.234, kind) == "not reproduced"
        assert judging.verdict(1.56, 1.7, 0.234, kind) == "reproduced"
    # A speed-up beyond the paper's is the claim and more.
    assert judging.verdict(1.096, 1.3, 0.11, "fps_ratio") == "exceeded"
    with pytest.raises(ValueError, match="no better side declared"):
        judging.verdict(1.0, 2.0, 0.1, "latency_ms")


def test_a_from_scratch_error_above_the_papers_is_not_reproduced_below_it_exceeded():
    claim = next(c for c in load_claims()["claims"] if c["kind"] == "class_error")
    scratch = [{"manifest": {"pretrained": "none: trained from scratch"}}]
    assert judging.judge(claim, scratch, 95.3, 99.0, 2.0)[0] == "not reproduced"
    assert judging.judge(claim, scratch, 95.3, 80.0, 2.0)[0] == "exceeded"


def test_only_complete_real_runs_count_and_seeds_are_averaged(seeds_present):
    _write_run("a", 0, 0.54)
    _write_run("b", 1, 0.56)
    _write_run("c", 2, 0.99, real=False)        # synthetic: never counts
    _write_run("d", 3, 0.99, status="running")  # unfinished: never counts
    row = verdicts.judge_run_claim(CLAIM, verdicts.real_runs())
    assert row["n"] == 2 and row["seeds"] == "0,1"
    assert row["ours"] == pytest.approx(55.0)
    assert row["ours_std"] == pytest.approx(math.sqrt(2.0))  # sample std of 54 and 56
    assert row["verdict"] == "reproduced"


def test_reduced_budget_is_inconclusive_not_a_verdict():
    _write_run("short", 0, 0.30, override=2)
    row = verdicts.judge_run_claim(CLAIM, verdicts.real_runs())
    assert row["verdict"] == "inconclusive"
    assert "2 of 40 epochs" in row["why"]
    assert row["ours"] == pytest.approx(30.0)


def test_full_budget_runs_are_preferred_over_reduced_ones(seeds_present):
    _write_run("short", 0, 0.30, override=2)
    _write_run("full", 0, 0.40)
    row = verdicts.judge_run_claim(CLAIM, verdicts.real_runs())
    assert row["n"] == 1 and row["verdict"] == "not reproduced" and row["gap"] == pytest.approx(-15.0)


def test_class_error_is_one_minus_recall():
    _write_run("a", 0, 0.5, recall_disgust=0.25)
    claim = {**CLAIM, "kind": "class_error", "class": "Disgust", "value": 75.0}
    assert verdicts.judge_run_claim(claim, verdicts.real_runs())["ours"] == pytest.approx(75.0)


def test_missing_dataset_is_not_run_with_the_reason(tmp_path):
    claim = {**CLAIM, "dataset": "affectnet", "experiment": "p1_swin_t_affectnet"}
    row = verdicts.judge_run_claim(claim, [], data_dir=tmp_path)
    assert row["verdict"] == "not run" and "affectnet" in row["why"]


def test_every_claim_is_well_formed():
    data = load_claims()
    known = {"difference"} | set(judging.HIGHER_IS_BETTER + judging.LOWER_IS_BETTER + judging.NO_BETTER_SIDE)
    ids = [c["id"] for c in data["claims"]]
    assert len(ids) == len(set(ids))
    for claim in data["claims"]:
        assert claim["kind"] in known, claim["id"]
        assert claim["paper"] in {"P1", "P2", "P3", "P4"}
        if claim["kind"] in verdicts.RUN_KINDS:
            assert {"dataset", "experiment", "split"} <= claim.keys(), claim["id"]


def test_size_claims_measured_on_the_zoo():
    measure = ModelMeasurer(measure_speed=False)
    claims = {c["id"]: c for c in load_claims()["claims"]}
    value, _ = measure(claims["P2-params-C1"])
    assert value == 3_389_647
    value, note = measure(claims["P4-fps-ratio"])
    assert value is None and "not measured" in note


def _timed_run(tmp_path, experiment: str, epoch_s: list[float], device: str = "Intel Xeon CPU (2 threads)",
               isa: str = "avx512", precision: str = "float32", epochs: int = 150) -> dict:
    run_dir = tmp_path / f"{experiment}-{device}-{isa}-{precision}-{epochs}".replace(" ", "_")
    run_dir.mkdir()
    (run_dir / "history.csv").write_text("epoch,epoch_s\n" + "".join(f"{i},{t}\n" for i, t in enumerate(epoch_s, 1)))
    manifest = {"experiment": experiment, "seed": 0, "dataset": {"name": "rafdb", "real": True}, "device": device,
                "cpu_capability": isa, "precision": precision, "epochs": epochs, "recipe_epochs": 150,
                "finished": f"2026-01-0{epochs % 9 + 1}", "config": {"model": {"name": "lc2fer"}}}
    return {"manifest": manifest, "metrics": {"test": {"accuracy": 0.7}}, "run_dir": run_dir}


def test_epoch_time_ratio_reads_only_runs_timed_under_the_same_conditions(tmp_path):
    claim = next(c for c in load_claims()["claims"] if c["id"] == "P2-epochtime-C3-C2")
    c2 = _timed_run(tmp_path, "p2_lc2fer_c2", [200.0, 190.0, 900.0])                  # median 200
    c3_elsewhere = _timed_run(tmp_path, "p2_lc2fer_c3", [300.0, 300.0], isa="avx512+bf16", precision="bfloat16")
    value, why = ModelMeasurer(runs=[c2, c3_elsewhere])(claim)
    assert value is None and "same conditions" in why and "avx512+bf16, bf16" in why and "avx512, fp32" in why
    c3_short = _timed_run(tmp_path, "p2_lc2fer_c3", [100.0], epochs=5)                # a side run never counts
    value, why = ModelMeasurer(runs=[c2, c3_elsewhere, c3_short])(claim)
    assert value is None
    c3 = _timed_run(tmp_path, "p2_lc2fer_c3", [450.0, 500.0, 520.0])                   # median 500
    value, why = ModelMeasurer(runs=[c2, c3_elsewhere, c3_short, c3])(claim)
    assert value == pytest.approx(2.5) and "Intel Xeon CPU (2 threads), avx512, fp32" in why
    row = verdicts._judge_measured(claim, ModelMeasurer(runs=[c2, c3]))
    assert row["verdict"] == "inconclusive"         # P2 names no device: never a red "not reproduced"
    assert "the paper names no device, we timed on cpu" in row["why"] and row["ours"] == pytest.approx(2.5)
    assert verdicts._judge_measured({**claim, "device": "cpu"}, ModelMeasurer(runs=[c2, c3]))["verdict"] == \
        "not reproduced"                            # with the paper's device named: a cost ratio 2.5 vs 1.56 mismatches
    # The device class a speed claim is compared with is where its runs were timed, not where the notebook runs.
    on_gpu = [_timed_run(tmp_path, e, t, device="NVIDIA H200") for e, t in (("p2_lc2fer_c2", [2.0]),
                                                                             ("p2_lc2fer_c3", [3.0]))]
    for run in on_gpu:
        run["manifest"]["device_type"] = "cuda"
    measure = ModelMeasurer(runs=on_gpu)                                               # the notebook on a CPU
    assert verdicts._judge_measured({**claim, "device": "cuda"}, measure)["verdict"] == "reproduced"
    assert verdicts._judge_measured({**claim, "device": "cpu"}, measure)["verdict"] == "inconclusive"


def test_a_run_resumed_under_other_conditions_pairs_with_no_run(tmp_path):
    claim = next(c for c in load_claims()["claims"] if c["id"] == "P2-epochtime-C3-C2")
    c2 = _timed_run(tmp_path, "p2_lc2fer_c2", [200.0, 200.0])
    c3 = _timed_run(tmp_path, "p2_lc2fer_c3", [500.0, 500.0])
    c3["manifest"]["epochs_run"] = 2
    here = {"device": "Intel Xeon CPU (2 threads)", "cpu_capability": "avx512", "precision": "float32"}
    c3["manifest"]["resumed"] = [{"at": "2026-01-03", "after_epoch": 1, **here},  # same conditions
                                 {"at": "2026-01-04", "after_epoch": 2, **here, "cpu_capability": "avx2"}]  # no epoch left
    measure = ModelMeasurer(runs=[c2, c3])
    assert measure(claim)[0] == pytest.approx(2.5)
    assert measure.measured_on(claim) == "Intel Xeon CPU (2 threads), avx512, fp32"
    assert verdicts._judge_measured(claim, measure)["device"] == \
        "Intel Xeon CPU (2 threads), avx512, fp32"  # where the runs were timed, not where the notebook ran

    killed_elsewhere = [{"at": "2026-01-05", "after_epoch": 1, **here, "cpu_capability": "avx2"},  # killed in epoch 2
                        {"at": "2026-01-06", "after_epoch": 1, **here}]
    assert timing_conditions({**c3["manifest"], "resumed": killed_elsewhere}) == "Intel Xeon CPU (2 threads), avx512, fp32"
    c3["manifest"]["resumed"][1]["after_epoch"] = 1  # now the avx2 resume timed epoch 2
    assert timing_conditions(c3["manifest"]) == ("Intel Xeon CPU (2 threads), avx512, fp32; "
                                                 "resumed on Intel Xeon CPU (2 threads), avx2, fp32")
    c2["manifest"].update(epochs_run=2, resumed=c3["manifest"]["resumed"])  # mixed the same way: still no pair
    value, why = ModelMeasurer(runs=[c2, c3])(claim)
    assert value is None and "timed under one condition" in why

    c2["manifest"]["resumed"] = c3["manifest"]["resumed"] = ["2026-01-02T00:00:00+00:00"]  # where: unrecorded
    assert timing_conditions(c3["manifest"]).endswith("; resumed on unrecorded conditions")
    assert ModelMeasurer(runs=[c2, c3])(claim)[0] is None


def test_p3_support_inconsistency_is_recomputed():
    assert "7,178" in inconsistencies.p3_support_sum({}) and "7,278" in inconsistencies.p3_support_sum({})


def test_speed_claims_are_judged_only_on_the_papers_device_class():
    fps = next(c for c in load_claims()["claims"] if c["id"] == "P4-fps-ratio")
    assert fps["device"] == "cuda"

    class FakeCpu:
        device_type = "cpu"

        def __call__(self, claim):
            return (1.096 if claim["kind"] == "fps_ratio" else 1.0), "measured"

    table = verdicts.claims_table(FakeCpu(), runs=[])
    row = table.set_index("id").loc["P4-fps-ratio"]
    assert row["verdict"] == "inconclusive" and "same device class" in row["why"]


def test_reruns_of_one_seed_count_once_the_latest():
    _write_run("a", 0, 0.50)
    _write_run("b", 0, 0.60)
    for name, stamp in (("a", "2026-01-01T00:00:00+00:00"), ("b", "2026-02-01T00:00:00+00:00")):
        path = results_dir() / "runs" / "p3_resnet50_weighted" / name / "manifest.json"
        manifest = json.loads(path.read_text())
        path.write_text(json.dumps({**manifest, "finished": stamp}))
    row = verdicts.judge_run_claim(CLAIM, verdicts.real_runs())
    assert row["n"] == 1 and row["seeds"] == "0" and row["ours"] == pytest.approx(60.0)
    assert row["epochs"] == "40/40" and row["weights"] == "from scratch"


def test_conditions_name_each_seeds_precision(seeds_present):
    _write_run("a", 0, 0.55, precision="bfloat16", ran=22)
    _write_run("b", 1, 0.56, precision="bfloat16", ran=30)
    _write_run("c", 2, 0.57, ran=22)
    row = verdicts.judge_run_claim(CLAIM, verdicts.real_runs())
    assert row["n"] == 3 and row["precision"] == "bf16 (s0, s1), fp32 (s2)"
    assert row["epochs"] == "22/40, 30/40, 22/40"  # early stopping's epochs, one per run in seed order
    _write_run("d", 3, 0.57)
    only_fp32 = [r for r in verdicts.real_runs() if r["manifest"]["seed"] >= 2]
    assert verdicts.judge_run_claim(CLAIM, only_fp32)["precision"] == "fp32"


def test_from_scratch_below_an_imagenet_claim_is_inconclusive_not_refuted(seeds_present):
    _write_run("a", 0, 0.30)
    claim = {**CLAIM, "paper": "P1"}  # P1 fine-tunes ImageNet weights (claims.yaml defaults)
    row = verdicts.judge_run_claim(claim, verdicts.real_runs())
    assert row["verdict"] == "inconclusive" and "from scratch" in row["why"]
    assert verdicts.judge_run_claim(CLAIM, verdicts.real_runs())["verdict"] == "not reproduced"


def test_tolerance_is_shown_as_applied_and_fitted_figures_are_flagged():
    table = verdicts.claims_table(ModelMeasurer(measure_speed=False), runs=[])
    rows = table.set_index("id")
    assert rows.loc["P4-gflops-spst", "tolerance"] == pytest.approx(0.05 * 4.12)
    assert rows.loc["P4-gflops-spst", "tolerance_rule"] == "5% of the paper's value"
    assert rows.loc["P3-acc-weighted", "tolerance_rule"] == "±2 points"
    assert rows.loc["P4-params-spst", "verdict"] == "consistent by construction"
    assert rows.loc["P4-params-base", "verdict"] == "reproduced"
    assert rows.loc["P4-gmacs-saving-spst", "verdict"] == "not reproduced"  # ours 0.218 vs P4's 0.39
    assert "accuracy claims" in verdicts.headline(table) and "architecture claims" in verdicts.headline(table)
    assert ":" not in rows.loc["P1-acc-affectnet", "why"][-1:]  # the loader's reason is not cut mid-sentence


def test_inconsistencies_table_computes_every_check():
    table = inconsistencies.inconsistencies_table()
    assert len(table) == len(load_claims()["inconsistencies"])
    assert not table["evidence"].str.startswith("(check unavailable").any(), table["evidence"].tolist()


def test_recipe_table_lists_every_real_run_with_validation_only():
    from fer_lib.study.recipes import recipe_signature, recipe_table

    _write_run("a", 0, 0.54)
    path = results_dir() / "runs" / "p3_resnet50_weighted" / "a" / "manifest.json"
    manifest = json.loads(path.read_text())
    from fer_lib.config import load_config

    manifest.update(config=load_config("p3_resnet50_weighted", "full"), best_val_metric=0.5, best_epoch=3,
                    git={"commit": "abc", "dirty": False}, precision="bfloat16")
    path.write_text(json.dumps(manifest))
    table = recipe_table(["p3_resnet50_weighted"])
    assert len(table) == 1 and table.loc[0, "best val acc %"] == 50.0 and "test" not in " ".join(table.columns)
    cfg = load_config("p3_resnet50_weighted", "full")
    assert recipe_signature(cfg) == table.loc[0, "recipe"]
    assert recipe_signature({**cfg, "optim": {**cfg["optim"], "lr": 1e-4}}) != recipe_signature(cfg)
    assert recipe_signature({**cfg, "train": {**cfg["train"], "precision": "bf16"}}) == recipe_signature(cfg)


def test_cross_validation_counts_only_with_every_fold_averaged_per_seed(seeds_present):
    from fer_lib.config import load_config

    claim = {**CLAIM, "paper": "P2", "dataset": "jaffe", "experiment": "p3_resnet50_weighted"}
    cfg = load_config("p4_swin_spst_ema_jaffe_cv", "full")
    for fold in range(10):
        _write_run(f"f{fold}", 0, 0.90 + 0.01 * (fold % 2))
        path = results_dir() / "runs" / "p3_resnet50_weighted" / f"f{fold}" / "manifest.json"
        manifest = json.loads(path.read_text())
        manifest.update(dataset={"name": "jaffe", "real": True},
                        config={**cfg, "data": {**cfg["data"], "fold": fold}}, finished=f"2026-{fold:02d}")
        path.write_text(json.dumps(manifest))
    row = verdicts.judge_run_claim({**claim, "value": 90.5}, verdicts.real_runs())
    assert row["n"] == 1 and row["ours"] == pytest.approx(90.5) and row["verdict"] == "reproduced"
    assert "all 10 folds" in row["why"]
    (results_dir() / "runs" / "p3_resnet50_weighted" / "f9" / "manifest.json").unlink()
    row = verdicts.judge_run_claim({**claim, "value": 90.5}, verdicts.real_runs())
    assert row["verdict"] == "inconclusive" and "9 of 10 folds" in row["why"]


def test_tolerance_widens_to_the_95_interval_of_seeds_and_test_sampling():
    import numpy as np

    claim = {**CLAIM}
    tol, rule = verdicts.uncertainty_tolerance(claim, np.array([54.0, 56.0]), 7178)
    # 1.96 * sqrt(0.0002 / 2 + 0.55 * 0.45 / 7178) * 100
    assert tol == pytest.approx(2.2731, abs=1e-3) and "wider than the fixed ±2" in rule
    tol, rule = verdicts.uncertainty_tolerance(claim, np.array([55.0, 55.2, 54.9]), 7178)
    assert tol == 2.0 and rule.startswith("±2 points (fixed")
    tol, _ = verdicts.uncertainty_tolerance(claim, np.array([55.0]), 300)  # one seed: test sampling only
    assert tol == pytest.approx(100 * 1.96 * (0.55 * 0.45 / 300) ** 0.5, rel=1e-6)


def test_every_recipe_seed_must_be_complete_before_a_verdict():
    _write_run("a", 0, 0.55)
    _write_run("b", 1, 0.55)
    row = verdicts.judge_run_claim(CLAIM, verdicts.real_runs())  # p3_resnet50_weighted runs seeds 0, 1, 2
    assert row["verdict"] == "inconclusive" and "2 of the recipe's 3 seeds complete" in row["why"]
    _write_run("c", 2, 0.55)
    assert verdicts.judge_run_claim(CLAIM, verdicts.real_runs())["verdict"] == "reproduced"


def _write_predictions(name: str, right: int, wrong: int) -> None:
    """Predictions of run `name` on the test split: `right` correct images (indices 0..) then `wrong` ones."""
    run = results_dir() / "runs" / "p3_resnet50_weighted" / name
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["dataset"]["class_names"] = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    lines = ["index,label,pred"] + [f"{i},3,3" for i in range(right)] + [f"{right + i},3,4" for i in range(wrong)]
    (run / "predictions_test.csv").write_text("\n".join(lines) + "\n")


def test_the_cleaned_test_set_is_a_sensitivity_beside_the_verdict(seeds_present, monkeypatch):
    _write_run("a", 0, 0.55)
    _write_predictions("a", right=550, wrong=450)
    leaked = frozenset(range(100))                 # 100 of the right answers had their twin in train
    monkeypatch.setattr(cleaned, "cleaned_exclusions", lambda dataset, data_dir: leaked)
    row = verdicts.judge_run_claim(CLAIM, verdicts.real_runs())
    assert row["verdict"] == "reproduced" and row["ours"] == pytest.approx(55.0)
    assert row["test_images_cleaned"] == 900
    assert row["ours_cleaned"] == pytest.approx(50.0)           # 450 of 900 left
    assert row["cleaned_delta"] == pytest.approx(-5.0)          # how much the score leans on duplicates
    assert "verdict_cleaned" not in row and "sensitivity" in row["cleaned_note"] and "900" in row["cleaned_note"]


def test_cleaned_per_class_sensitivity_counts_the_class_images_left(seeds_present, monkeypatch):
    """A per-class claim's cleaned figure is on the class's images left in the cleaned set, not all images."""
    claim = {**CLAIM, "id": "Y", "kind": "recall", "class": "Disgust"}
    _write_run("a", 0, 0.55, recall_disgust=0.55)
    _write_predictions("a", right=0, wrong=0)
    path = results_dir() / "runs" / "p3_resnet50_weighted" / "a" / "predictions_test.csv"
    disgust = [f"{i},1,1" for i in range(550)] + [f"{550 + i},1,4" for i in range(450)]   # recall 55 % of 1,000
    path.write_text(path.read_text() + "\n".join(disgust + [f"{1000 + i},0,0" for i in range(300)]) + "\n")
    monkeypatch.setattr(cleaned, "cleaned_exclusions", lambda dataset, data_dir: frozenset(range(100)))
    row = verdicts.judge_run_claim(claim, verdicts.real_runs())
    assert row["test_images_cleaned"] == 1200 and row["ours_cleaned"] == pytest.approx(50.0)   # 450 of 900 Disgust
    assert row["cleaned_delta"] == pytest.approx(-5.0) and "900 of them of the class" in row["cleaned_note"]


def test_cleaned_verdict_says_why_it_is_missing(seeds_present, monkeypatch):
    _write_run("a", 0, 0.55)
    monkeypatch.setattr(cleaned, "cleaned_exclusions", lambda dataset, data_dir: "needs the fer2013 images")
    row = verdicts.judge_run_claim(CLAIM, verdicts.real_runs())
    assert "ours_cleaned" not in row and row["cleaned_note"] == "needs the fer2013 images"
    monkeypatch.setattr(cleaned, "cleaned_exclusions", lambda dataset, data_dir: frozenset())
    row = verdicts.judge_run_claim(CLAIM, verdicts.real_runs())
    assert row["cleaned_note"] == "a run without recorded predictions"


def test_metrics_recomputed_from_predictions_match_the_recorded_ones():
    """The cleaned view's numbers come from predictions_*.csv: with nothing excluded they are the recorded metrics."""
    committed = verdicts.real_runs(root=PROJECT_ROOT / "results" / "runs")
    claims = [c for c in load_claims()["claims"] if c["paper"] == "P3" and c["kind"] in verdicts.RUN_KINDS]
    assert committed and claims
    for run in committed:
        for claim in claims:
            value, images = cleaned.metric_on_predictions(run, claim)
            assert value == pytest.approx(judging.claim_metric(run["metrics"], claim), abs=1e-9), claim["id"]
            assert images == run["metrics"][claim.get("split", "test")]["n"]


def test_a_short_side_run_never_speaks_for_a_recipe_that_has_full_runs():
    """A newer 5-epoch run (a precision check's) must not replace the full-budget runs in figures and notes;
    with no full-budget run the newest run speaks."""
    from fer_lib.runs.select import speaking_runs
    from fer_lib.study.tables import headline

    for name, seed, override, started in (("full-s0", 0, None, "2026-12-01T10:00:00+00:00"),
                                          ("short-s1", 1, 5, "2026-12-03T10:00:00+00:00")):
        _write_run(name, seed, 0.5, override=override)
        path = results_dir() / "runs" / "p3_resnet50_weighted" / name / "manifest.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "started": started}))
    assert [run.name for run in speaking_runs("p3_resnet50_weighted")] == ["full-s0"]
    best = headline("p3_resnet50_weighted")
    assert best["latest"].name == "full-s0" and [run.name for run in best["runs"]] == ["full-s0"] and best["n"] == 1
    (results_dir() / "runs" / "p3_resnet50_weighted" / "full-s0" / "manifest.json").unlink()
    assert [run.name for run in speaking_runs("p3_resnet50_weighted")] == ["short-s1"]
    assert headline("p3_resnet50_weighted")["latest"].name == "short-s1"


def test_the_headline_reads_the_verdict_runs_one_per_seed():
    """A rerun of a seed replaces the earlier run in the headline mean, as it does in the verdict."""
    from fer_lib.study.tables import headline

    for name, seed, accuracy, started in (("s0-first", 0, 0.40, "2026-12-01T10:00:00+00:00"),
                                          ("s1", 1, 0.50, "2026-12-02T10:00:00+00:00"),
                                          ("s0-rerun", 0, 0.60, "2026-12-03T10:00:00+00:00")):
        _write_run(name, seed, accuracy)
        path = results_dir() / "runs" / "p3_resnet50_weighted" / name / "manifest.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "started": started, "finished": started}))
    best = headline("p3_resnet50_weighted")
    assert sorted(run.name for run in best["runs"]) == ["s0-rerun", "s1"] and best["n"] == 2
    assert best["latest"].name == "s0-rerun" and best["accuracy"] == pytest.approx(55.0)


def test_cleaned_and_per_class_tables_show_every_seed_and_their_mean(monkeypatch):
    """The verdict runs (one per seed, at the full budget) each get a row, then their mean ± std; a shorter side
    run is left out."""
    from fer_lib.study import recipes, tables

    for name, seed, right in (("a", 0, 550), ("b", 1, 570)):
        _write_run(name, seed, right / 1000, recall_disgust=0.4 + seed / 5)
        _write_predictions(name, right=right, wrong=1000 - right)
    _write_run("short", 2, 0.3, override=5)
    _write_predictions("short", right=300, wrong=700)
    monkeypatch.setattr(recipes, "test_subsets", lambda dataset, data_dir: {"cleaned (both)": set(range(100))})
    table = recipes.cleaned_test_table(["p3_resnet50_weighted"])
    assert list(table["run"]) == ["p3_resnet50_weighted/a", "p3_resnet50_weighted/b",
                                  "p3_resnet50_weighted: mean ± std of 2 runs"]
    assert table.iloc[2]["test (official) %"] == "56.00 ± 1.41"
    assert table.iloc[2]["cleaned (both) %"] == "51.11 ± 1.57" and table.iloc[2]["cleaned (both) n"] == 900
    recall = tables.per_class_recall(["p3_resnet50_weighted"]).iloc[0]
    assert recall["run"] == "mean of 2 runs (seeds 0,1)" and recall["Disgust"] == pytest.approx(50.0)


def test_a_run_without_a_recorded_budget_is_never_at_full_budget():
    from fer_lib.runs.select import at_full_budget

    assert at_full_budget({"epochs": 40, "recipe_epochs": 40}) and at_full_budget({"epochs": 5, "epochs_override": 40,
                                                                                   "recipe_epochs": 40})
    assert not at_full_budget({"epochs": 5, "recipe_epochs": 40})
    assert not at_full_budget({"epochs": 40}) and not at_full_budget({"epochs": None, "recipe_epochs": 40})


def test_the_best_models_size_is_measured_on_its_experiments_model_and_flagged_as_the_papers_own():
    claim = next(c for c in load_claims()["claims"] if c["id"] == "P2-params-best")
    assert "model" not in claim and measure.claim_model(claim) == "lc2fer_c5"
    item = next(i for i in load_claims()["inconsistencies"] if i["id"] == "P2-best-size")
    evidence = inconsistencies.p2_best_params(item)
    assert "lc2fer_c5 (the model of p2_lc2fer_c5_aug)" in evidence and "lc2fer_c6" in evidence
    assert "P2-best-size" in claim["see"]


def test_claim_texts_carry_no_computed_result():
    """A finding's text states the paper's side; what we computed is in its check's evidence."""
    table2 = next(i for i in load_claims()["inconsistencies"] if i["id"] == "P4-spst-table2")["text"]
    for phrase in ("matches none", "two to three times", "nor even all four"):
        assert phrase not in table2
