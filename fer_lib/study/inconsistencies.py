"""The papers' internal inconsistencies, each with the arithmetic that shows it."""

from __future__ import annotations

import math

import pandas as pd

from fer_lib.bench.complexity import count_flops
from fer_lib.bench.spst_readings import kept_reading_line, search_finding, search_readings, table2_check
from fer_lib.claims import load_claims
from fer_lib.claims.paper_tables import P3_TABLE1_TEST_SUPPORT
from fer_lib.data.explore import p1_table4_comparison, try_load
from fer_lib.models import count_params, create_model
from fer_lib.study.measure import claim_model


def p3_support_sum(item: dict, data_dir=None) -> str:
    total = sum(P3_TABLE1_TEST_SUPPORT.values())
    printed = load_claims()["paper_tables"]["P3_table1_accuracy_support"]
    return f"class supports sum to {total:,}; accuracy row says {printed:,}"


def p4_entropy_max(item: dict, data_dir=None) -> str:
    original = load_claims()["paper_tables"]["P4_table3_entropy"]["original"].values()
    bound = math.log(224 * 224)
    return (f"original maps {min(original):.2f}-{max(original):.2f} nats vs uniform bound ln(224*224) = {bound:.2f}: "
            f"{100 * min(original) / bound:.0f}-{100 * max(original) / bound:.0f}% of maximum")


def p4_spst_gmacs(item: dict, data_dir=None) -> str:
    base = count_flops(create_model("swin_spst_ema", spst_stage=None, ema_after=None), 224) / 2e9
    spst = count_flops(create_model("swin_spst_ema", spst_stage=4, ema_after=None), 224) / 2e9
    paper = {c["id"]: float(c["value"]) for c in load_claims()["claims"] if c.get("value") is not None}
    p_base, p_spst = paper["P4-gflops-base"], paper["P4-gflops-spst"]
    return (f"ours: Swin-T {base:.3f} -> SPST(4) {spst:.3f} GMACs (-{base - spst:.3f}); "
            f"P4: {p_base:.2f} -> {p_spst:.2f} (-{p_base - p_spst:.2f})")


def p4_spst_placement(item: dict, data_dir=None) -> str:
    """Parameters of SPST(4) with SparTa on the 7x7x768 map (ours) and at SparseSwin's stage-3-output placement."""
    ours = count_params(create_model("swin_spst_ema", spst_stage=4))
    official = count_params(create_model("swin_spst_ema", spst_stage=4, spst_input="stage3_output"))
    paper = next(float(c["value"]) for c in load_claims()["claims"] if c["id"] == "P4-params-spst")
    return (f"SparTa on the 7x7x768 map: {ours:,}; on the 14x14x384 stage-3 output (SparseSwin): {official:,}; "
            f"P4: {paper:,.0f}")


def p2_best_params(item: dict, data_dir=None) -> str:
    """Parameters of C5 (the best model, by its experiment's config) and C6, built by the zoo, beside P2's sizes."""
    claims = {c["id"]: c for c in load_claims()["claims"]}
    best, c6 = claims["P2-params-best"], claims["P2-params-C6"]
    name = claim_model(best)
    return (f"{name} (the model of {best['model_of']}): {count_params(create_model(name)):,} parameters; "
            f"{c6['model']}: {count_params(create_model(c6['model'])):,}; P2: the best model about "
            f"{best['value'] / 1e6:g} M, C6 {c6['value'] / 1e6:g} M")


def p4_spst_table2(item: dict, data_dir=None) -> str:
    """Our reading of SPST at every stage beside P4 Table 2 (closed form, the models' own counts: see the tests), how
    many of the eight figures it matches, and the search for a reading that matches all of them."""
    check = table2_check(build=False)
    rows = "; ".join(f"stage {r['SPST at stage']}: {r['params (ours)']:,} vs {r['params (P4)']:,} parameters "
                     f"({r['params diff %']:+.2f} %), {r['GFLOPs (ours, GMACs)']:.2f} vs {r['GFLOPs (P4)']:.2f} GFLOPs"
                     for _, r in check.iterrows())
    summary, best = search_readings()
    top = best.iloc[0]
    return (f"{rows}; {kept_reading_line(check)}. {search_finding(summary)} Best: {top.tokens} tokens, width "
            f"{top.width}, depth {top.depth}, MLP ratio {top.mlp_ratio}, {top.kernel}x{top.kernel} conv, {top.source} "
            f"(its stage-4 count {top['params s4']:,}).")


def p1_table4_sums(item: dict, data_dir=None) -> str:
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
