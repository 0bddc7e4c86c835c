"""fer_lib.bench.spst_readings: closed-form counts of SPST readings, the P4 Table 2 check, the search; and the
measured claims built on them (one construction's verdicts citing each other, the FPS ratio's device class)."""

from __future__ import annotations

import pytest
import torch

from fer_lib.bench import spst_readings as sr
from fer_lib.bench.complexity import count_flops
from fer_lib.claims import load_claims
from fer_lib.models import count_params, create_model
from fer_lib.study import measure, verdicts


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_closed_form_swin_t_is_the_built_model():
    model = create_model("swin_t")
    assert sr.swin_t_counts() == (count_params(model), count_flops(model, 224) // 2)


def test_table2_check_reports_each_built_stage_and_the_closed_form_agrees():
    check = sr.table2_check(build=True).set_index("SPST at stage")
    for stage in sr.STAGES:
        model = create_model("swin_spst_ema", spst_stage=stage)
        params, macs = count_params(model), count_flops(model, 224) // 2
        row = check.loc[stage]
        assert row["params (ours)"] == params == row["params (closed form)"]
        assert row["GFLOPs (ours, GMACs)"] == pytest.approx(macs / 1e9) == row["GMACs (closed form)"]
        assert row["params diff"] == params - row["params (P4)"]
    assert check.loc[4, "params (ours)"] == 23_185_251 and check.loc[4, "fitted"] == "params"
    assert check.loc[4, "params match"] and not check["GFLOPs match"].any()
    assert sr.unfitted_matches(check.reset_index()) == (1, 0)   # the fitted count only
    assert "matches 1 of Table 2's 8 figures; 0 of the 7" in sr.kept_reading_line(check.reset_index())


def test_closed_form_follows_other_readings_the_model_can_build():
    model = create_model("swin_spst_ema", spst_stage=2, spst_tokens=16, spst_dim=64, spst_depth=1,
                         spst_mlp_ratio=2.0, spst_heads=4)
    reading = sr.Reading(tokens=16, width=64, depth=1, mlp_ratio=2.0)
    assert sr.reading_counts(reading, 2) == (count_params(model), count_flops(model, 224) // 2)
    sparse_swin = create_model("swin_spst_ema", spst_stage=4, spst_input="stage3_output")
    assert sr.reading_counts(sr.Reading(source="unmerged"), 4) == (20_240_262, count_flops(sparse_swin, 224) // 2)


def test_fused_attention_is_counted_on_cpu():
    block = create_model("swin_spst_ema", spst_stage=4).spst.blocks[0].eval()   # timm Block: fused attention
    flops = count_flops(torch.nn.Sequential(torch.nn.Flatten(2), _Tokens(), block), 7)
    tokens, width = 49, 512
    assert flops == 2 * (tokens * 12 * width * width + 2 * tokens * tokens * width)


class _Tokens(torch.nn.Module):
    """(1,3,7,7) -> (1,49,512): a fixed token map for one transformer layer."""

    def forward(self, x):
        return x.new_ones(1, 49, 512)


def test_search_finds_a_planted_reading_in_a_tiny_family():
    family = dict(tokens=tuple(range(8, 21)), token_divs=(49,), widths=(32, 48, 64), width_mults=(1.0,),
                  depths=(1, 2, "stage"), mlp_ratios=(2, 4), kernels=(1, 3), sources=("merged", "unmerged"))
    planted = sr.Reading(tokens=13, width=48, depth=2, mlp_ratio=2, kernel=1, source="unmerged")
    targets = {k: (float(p), round(m / 1e9, 2)) for k in sr.STAGES for p, m in [sr.reading_counts(planted, k)]}
    summary, best = sr.search_readings(family, targets, swin_gflops=sr.swin_t_counts()[1] / 1e9, top=3)
    assert summary["all_eight"] >= 1 and summary["most_matched"] == 8
    top = best.iloc[0]
    assert (top.tokens, top.width, top.depth, top.mlp_ratio, top.kernel, top.source) == ("13", "48", 2, 2, 1, "unmerged")
    assert [top[f"params s{k}"] for k in sr.STAGES] == [targets[k][0] for k in sr.STAGES]
    n = len(range(8, 21)) + 1   # fixed counts and positions/49
    assert summary["readings"] == 2 * n * 4 * (3 * 2 * 2)   # sources x tokens x widths x (depths, ratios, kernels)
    assert "tokens T fixed 8-20 (13 values)" in sr.search_finding(summary, family)


def test_search_misses_when_no_reading_fits():
    family = dict(tokens=(49,), token_divs=(), widths=(512,), width_mults=(), depths=(2,), mlp_ratios=(4,),
                  kernels=(3,), sources=("merged",))
    summary, best = sr.search_readings(family)                      # the kept reading alone, against P4 Table 2
    assert summary["readings"] == 1 and summary["all_eight"] == 0 and summary["most_matched"] == 1
    assert best.iloc[0]["params s4"] == 23_185_251
    assert "no reading matches all eight figures" in sr.search_finding(summary, family)
    assert "seconds" not in summary and " s (" not in sr.search_finding(summary, family)   # the record is stable


def test_a_cited_verdict_is_the_cited_claims_own(monkeypatch):
    """A same-construction citation goes through the claim's own judging path: a fitted figure that matches reads
    'consistent by construction' there, as in its own row, not a bare 'reproduced'."""
    measurer = measure.ModelMeasurer(measure_speed=False)
    fitted = {**_claim("P4-params-spst"), "same_construction": ["P4-params-base"]}
    base = {**_claim("P4-params-base"), "same_construction": ["P4-params-spst"]}
    monkeypatch.setattr(measure, "load_claims", lambda: {"claims": [fitted, base]})
    own = verdicts._judge_measured(fitted, measurer)
    cited = verdicts._judge_measured(base, measurer)
    assert own["verdict"] == "consistent by construction"
    assert "P4-params-spst: ours 23185251.000 vs P4's 2.31853e+07, consistent by construction" in cited["why"]


def _claim(claim_id: str) -> dict:
    return next(c for c in load_claims()["claims"] if c["id"] == claim_id)


def test_one_constructions_claims_cite_each_other():
    claims = {c["id"]: c for c in load_claims()["claims"]}
    for claim in claims.values():
        for other in claim.get("same_construction", []):
            assert claim["id"] in claims[other].get("same_construction", []), (claim["id"], other)
    measurer = measure.ModelMeasurer(measure_speed=False)
    gflops = verdicts._judge_measured(_claim("P4-gflops-spst"), measurer)
    saving = verdicts._judge_measured(_claim("P4-gmacs-saving-spst"), measurer)
    assert gflops["verdict"] == "reproduced" and saving["verdict"] == "not reproduced"   # each its own tolerance
    assert f"P4-gmacs-saving-spst: ours {saving['ours']:.3f} vs P4's 0.39, not reproduced" in gflops["why"]
    assert f"P4-gflops-spst: ours {gflops['ours']:.3f} vs P4's 4.12, reproduced" in saving["why"]


def test_fps_ratio_is_timed_at_batch_1_and_64_and_inconclusive_on_cpu(monkeypatch):
    calls = []

    def fake_time_models(models, device, batch_sizes, warmup, repeats, threads):
        calls.append((tuple(batch_sizes), warmup, repeats, threads))
        (b,) = batch_sizes
        return {0: {f"img_per_s_b{b}": 330.0, "device": "cpu (1 thread)"},
                1: {f"img_per_s_b{b}": 300.0, "device": "cpu (1 thread)"}}

    monkeypatch.setattr(measure, "time_models", fake_time_models)
    row = verdicts._judge_measured(_claim("P4-fps-ratio"), measure.ModelMeasurer(device="cpu"))
    assert [c[0] for c in calls] == [(1,), (64,)] and all(c[3] == 1 for c in calls)
    assert all(c[1] >= 1 for c in calls)                               # a warm-up pass at every batch size
    assert row["ours"] == pytest.approx(1.1) and row["verdict"] == "inconclusive"
    assert "RTX 3060" in row["why"] and "device class cpu" in row["why"] and "cuda" in row["why"]
