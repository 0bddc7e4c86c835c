"""Which of our experiments fills which cell of P4's tables (P4 Tables 2, 5, 6), and the model variants
whose parameters notebook 06 counts. P4's own numbers are in fer_lib/claims/claims.yaml."""

from __future__ import annotations

DATASETS = ["jaffe", "ferplus", "rafdb", "fane"]

# P4 Table 6: the ablation (JAFFE: base from Table 7, both from Table 5)
TABLE6 = {
    "Swin-T": {d: f"p4_swin_{d}" for d in DATASETS},
    "+ EMA (after 2)": {d: f"p4_swin_ema_{d}" for d in ["ferplus", "rafdb", "fane"]},
    "+ SPST (stage 4)": {d: f"p4_swin_spst_{d}" for d in ["ferplus", "rafdb", "fane"]},
    "+ SPST + EMA": {d: f"p4_swin_spst_ema_{d}" for d in DATASETS},
}
# P4 Table 5: the EMA module after each stage, with SPST at stage 4
TABLE5 = {f"EMA after stage {k}": {d: f"p4_swin_spst_ema{'' if k == 2 else k}_{d}" for d in DATASETS}
          for k in (1, 2, 3, 4)}
# P4 Table 2: SPST in place of each stage, on RAF-DB
TABLE2 = {**{f"SPST at stage {k}": {"rafdb": f"p4_swin_spst{k}_rafdb"} for k in (1, 2, 3)},
          "SPST at stage 4": {"rafdb": "p4_swin_spst_rafdb"}, "none (original Swin-T)": {"rafdb": "p4_swin_rafdb"}}
GRIDS = {"table6_ablation": TABLE6, "table5_ema_stage": TABLE5, "table2_spst_stage": TABLE2}
EXPERIMENTS = list(dict.fromkeys(e for table in (TABLE6, TABLE5, TABLE2) for row in table.values() for e in row.values()))
SMOKE_SUBSET = ["p4_swin_rafdb", "p4_swin_spst_ema_rafdb"]  # base and proposed, the two ends of the ablation

# swin_spst_ema model options of each variant whose parameter count notebook 06 tabulates
VARIANTS = {"Swin-T": {}, "+ EMA (after 2)": {"ema_after": 2}, "+ SPST (stage 4)": {"spst_stage": 4},
            **{f"SPST(4) + EMA after {k}": {"spst_stage": 4, "ema_after": k} for k in (1, 2, 3, 4)},
            **{f"SPST at stage {k}": {"spst_stage": k} for k in (1, 2, 3)},
            "SPST (stage 4) at SparseSwin's placement": {"spst_stage": 4, "spst_input": "stage3_output"}}
