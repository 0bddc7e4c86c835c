"""fer_lib.bench.complexity: FLOPs, parameter counts, speed measurement, joining with the papers' figures."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from fer_lib.bench import complexity
from fer_lib.models import create_model, resolve_options
from fer_lib.claims.paper_figures import PAPER_FIGURES, RATIO_CLAIMS, table_entries




def test_flops_count_a_linear_layer_as_two_per_multiply_add():
    class Lin(nn.Module):  # a (3*4*4 -> 10) linear layer on the flattened image: 480 multiply-adds
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(48, 10, bias=False)

        def forward(self, x):
            return self.fc(x.flatten(1))

    assert complexity.count_flops(Lin(), input_size=4) == 2 * 48 * 10


def test_swin_t_flops_match_the_usual_4_5_gmacs():
    gmacs = complexity.count_flops(create_model("swin_t"), 224) / 2e9
    assert gmacs == pytest.approx(4.51, abs=0.05)  # P4 Table 6 prints 4.51 "GFLOPs" (MACs)


def test_measure_inference_reports_latency_and_throughput():
    threads = torch.get_num_threads()
    out = complexity.measure_inference(create_model("tiny_cnn"), 48, "cpu", batch_sizes=(1, 4), warmup=1, repeats=2,
                                       threads=1)
    assert out["device"] == "cpu (1 thread)" and torch.get_num_threads() == threads
    assert out["latency_ms_b1"] > 0 and out["latency_ms_b4"] > 0
    assert out["fps_b1"] == out["img_per_s_b1"] == pytest.approx(1000 / out["latency_ms_b1"])
    assert out["img_per_s_b4"] == pytest.approx(4000 / out["latency_ms_b4"])


def test_complexity_table_joins_the_papers_figures():
    entries = [e for e in table_entries() if e["label"] in ("P2 C1", "P2 C2", "P2 C3", "tiny_cnn (tests)")]
    entries.append(entries[0])  # duplicates are measured once and listed twice
    table = complexity.complexity_table(entries, device="cpu", measure_speed=True, batch_sizes=(1, 2), warmup=0,
                                        repeats=1)
    assert len(table) == 5
    assert {"params", "trainable_params", "gflops", "gmacs", "fps_b1", "img_per_s_b2"} <= set(table.columns)
    joined = complexity.compare_with_papers(table)
    c1 = joined[joined.label == "P2 C1"].iloc[0]
    assert c1.params == 3_389_647 and c1.paper_params == 3.4e6 and c1.params_match
    ratios = complexity.ratio_table(table).set_index("claim")
    assert ratios.loc["params C3 / C2 (3.9x)", "measured"] == pytest.approx(3.9, abs=0.05)
    no_speed = complexity.complexity_table(["tiny_cnn"], device="cpu", measure_speed=False)
    assert "fps_b1" not in no_speed.columns and no_speed.params.iloc[0] > 0


def test_paper_figures_refer_to_registered_configurations():
    labels = {f.label for f in PAPER_FIGURES}
    assert len(labels) == len(PAPER_FIGURES)
    for fig in PAPER_FIGURES:
        resolve_options(fig.model, **fig.options)  # registered name, valid options
    for claim in RATIO_CLAIMS:
        assert claim.numerator in labels and claim.denominator in labels
