"""The engine's CPU speed options (issue 32): the allocator set at import, channels-last, fp32 depthwise
convolutions under bf16 autocast where the CPU has AMX, each recorded and kept when a run resumes, and the
benchmark's side-by-side gain table."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
import torch
import torch.nn as nn

from fer_lib import allocator
from fer_lib.bench.cases import ENGINE_OPTIONS, with_engine
from fer_lib.bench.engine_gain import engine_env, gain_table
from fer_lib.config import load_config, upgrade_stored_config
from fer_lib.devices import cpu_has_amx
from fer_lib.engine import runtime as rt_mod
from fer_lib.engine.runtime import Fp32DepthwiseConv2d, keep_depthwise_fp32, make_runtime, prepare_model
from fer_lib.bench import make_case
from fer_lib.models import create_model

CPU = torch.device("cpu")


def _allocator_in_fresh_process(env_extra: dict[str, str]) -> str:
    env = {k: v for k, v in engine_env("tuned").items() if k != "LD_PRELOAD"}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", "import fer_lib.allocator as a, fer_lib; print(a.allocator())"],
                         env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_the_allocator_is_set_at_import_and_the_baseline_keeps_glibc_defaults():
    tuned = _allocator_in_fresh_process({})
    if not tuned.startswith("glibc"):
        pytest.skip(f"not a glibc system: {tuned}")
    assert "M_MMAP_MAX=0" in tuned and "M_TRIM_THRESHOLD=1GiB" in tuned
    assert _allocator_in_fresh_process({"FER_MALLOC": "system"}) == "glibc defaults (FER_MALLOC=system)"
    assert engine_env("baseline")["FER_MALLOC"] == "system" and "FER_MALLOC" not in engine_env("tuned")


def test_a_preloaded_allocator_is_left_alone_and_the_baseline_drops_it(monkeypatch):
    monkeypatch.setitem(allocator._state, "allocator", allocator.allocator())  # put back after the test
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /opt/libother.so")
    assert allocator.configure() == "jemalloc (LD_PRELOAD)"
    assert engine_env("baseline")["LD_PRELOAD"] == "/opt/libother.so"


def test_amx_counts_only_where_the_kernels_may_use_it(monkeypatch):
    flags = "flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert cpu_has_amx(flags) and not cpu_has_amx(flags.replace(" amx_bf16", ""))
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert not cpu_has_amx(flags)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    assert not cpu_has_amx(flags)


def test_auto_layout_is_channels_last_on_cpu_and_fp32_depthwise_only_for_bf16_on_amx(monkeypatch):
    cfg = load_config("p2_lc2fer_c5")
    monkeypatch.setattr(rt_mod, "cpu_has_amx", lambda: False)
    assert make_runtime(cfg, CPU).channels_last is True
    bf16 = {**cfg, "train": {**cfg["train"], "precision": "bf16"}}
    assert make_runtime(bf16, CPU).dwconv_fp32 is False          # AVX512-BF16 without AMX: bf16 depthwise is faster
    monkeypatch.setattr(rt_mod, "cpu_has_amx", lambda: True)
    assert make_runtime(bf16, CPU).dwconv_fp32 is True           # AMX: its bf16 depthwise backward is the slow one
    assert make_runtime(cfg, CPU).dwconv_fp32 is False           # fp32 (the suite pins it): nothing to keep out
    off = {**bf16, "train": {**bf16["train"], "channels_last": False, "dwconv_fp32": False}}
    assert (make_runtime(off, CPU).channels_last, make_runtime(off, CPU).dwconv_fp32) == (False, False)


def test_fp32_depthwise_keeps_the_weights_and_computes_in_fp32_under_bf16_autocast():
    torch.manual_seed(0)
    model = create_model("lc2fer_c6", num_classes=7)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    depthwise = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1]
    assert keep_depthwise_fp32(model) == len(depthwise) == 3   # C6: one block per stage, three stages
    assert all(type(m) is Fp32DepthwiseConv2d for m in depthwise)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    conv = depthwise[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = conv(torch.randn(2, conv.in_channels, 8, 8))
        plain = nn.Conv2d.forward(conv, torch.randn(2, conv.in_channels, 8, 8))
    assert y.dtype == torch.float32 and plain.dtype == torch.bfloat16


def test_prepare_model_lays_the_model_out_as_the_runtime_says():
    cfg = load_config("p2_lc2fer_c5")
    rt = make_runtime({**cfg, "train": {**cfg["train"], "dwconv_fp32": True}}, CPU)
    model, forward = prepare_model(create_model("lc2fer_c8", num_classes=7), rt)
    assert forward is model
    conv = model.stem[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert any(type(m) is Fp32DepthwiseConv2d for m in model.modules())


def test_a_stored_run_resumes_with_the_layout_it_recorded():
    cfg = load_config("p2_lc2fer_c5")
    # A run recorded before these options existed: channels_last False on CPU, no dwconv_fp32 key, not compiled.
    old = upgrade_stored_config(cfg, "float32", {"channels_last": False, "dwconv_fp32": None, "compiled": False})
    rt = make_runtime(old, CPU)
    assert (rt.channels_last, rt.dwconv_fp32, rt.compile) == (False, False, False)
    new = upgrade_stored_config(cfg, "bfloat16", {"channels_last": True, "dwconv_fp32": True, "compiled": False})
    assert (new["train"]["channels_last"], new["train"]["dwconv_fp32"]) == (True, True)


def test_baseline_cases_turn_every_option_off_and_unknown_engines_are_refused():
    case = make_case("tiny_cnn", input_size=32)
    (base,) = with_engine([case], "baseline")
    assert {k: base.cfg["train"][k] for k in ENGINE_OPTIONS["baseline"]} == ENGINE_OPTIONS["baseline"]
    (tuned,) = with_engine([case], "tuned")
    assert tuned.cfg["train"]["channels_last"] == case.cfg["train"]["channels_last"]
    with pytest.raises(ValueError, match="unknown engine 'fast'"):
        with_engine([case], "fast")


def test_gain_table_divides_tuned_by_baseline_per_case_and_pipeline():
    rows = pd.DataFrame([
        dict(engine=e, paper="P2", model="lc2fer_c5", input_size=100, mode="train", pipeline=p, batch=128,
             precision="bf16", img_per_s=v)
        for e, p, v in [("baseline", "ours", 17.0), ("tuned", "ours", 47.6), ("baseline", "usual", 10.0),
                        ("tuned", "usual", 12.0)]])
    gains = gain_table(rows).set_index("pipeline")
    assert gains.loc["ours", "gain"] == pytest.approx(2.8) and gains.loc["usual", "gain"] == pytest.approx(1.2)
    assert list(gains.columns[-3:]) == ["baseline_img_s", "tuned_img_s", "gain"]


@pytest.mark.slow
def test_bench_runs_both_engines_in_their_own_processes_and_writes_the_gain(tmp_path):
    out = tmp_path / "bench"
    done = subprocess.run([sys.executable, "-m", "fer_lib", "bench", "--models", "tiny_cnn", "--device", "cpu",
                           "--steps", "1", "--rounds", "1", "--batch", "4", "--no-inference", "--no-profile",
                           "--precision", "fp32", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (gain_csv,) = out.glob("*_engine_gain.csv")
    gains = pd.read_csv(gain_csv)
    assert set(gains.pipeline) == {"upper_bound", "ours", "usual"} and (gains.gain > 0).all()
    rows = pd.read_csv(next(p for p in out.glob("*.csv") if not p.name.endswith(("_ratios.csv", "_gain.csv"))))
    assert set(rows.engine) == {"baseline", "tuned"}
    assert rows.loc[rows.engine == "baseline", "allocator"].str.contains("FER_MALLOC=system").all()
    assert "Engine options vs the options-off baseline" in next(out.glob("*.md")).read_text()
