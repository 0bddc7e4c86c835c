"""train.precision: the autocast dtype chosen per device, recorded in the manifest, used on re-evaluation."""

from __future__ import annotations

import json

import pytest
import torch

from fer_lib import devices
from fer_lib.config import load_config, upgrade_stored_config
from fer_lib.engine.evaluate import evaluate_run
from fer_lib.engine.experiment import run_experiment
from fer_lib.engine.rebuild import run_runtime
from fer_lib.runs.store import load_run
from fer_lib.devices import autocast_dtype, cpu_bf16_native, cpu_capability, device_slug, precision_name

AMX = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile\n"
ZEN4 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n"
OLD = "processor\t: 0\nflags\t\t: fpu sse avx2 fma\n"


def test_cpu_bf16_detection_reads_the_flags(monkeypatch):
    monkeypatch.delenv("FER_CPU_BF16", raising=False)
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    assert cpu_bf16_native(AMX) and cpu_bf16_native(ZEN4) and not cpu_bf16_native(OLD)
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")  # as on a CPU without AVX-512
    assert not cpu_bf16_native(AMX)
    monkeypatch.setenv("FER_CPU_BF16", "1")
    assert cpu_bf16_native(OLD)
    assert devices.cpu_bf16_hardware(AMX) and not devices.cpu_bf16_hardware(OLD)  # settings never change the fact


def test_cpu_records_name_the_instruction_set(monkeypatch):
    """Two CPUs of one model name (one with AVX-512 bf16, one with AVX2 only) never share a bench file; the label
    names the hardware, so FER_CPU_BF16 (what `auto` picks, recorded as the precision) leaves it as it is."""
    isa = str(torch.backends.cpu.get_cpu_capability()).lower()
    monkeypatch.setattr(devices, "cpu_bf16_hardware", lambda cpuinfo=None: False)
    assert cpu_capability() == isa and device_slug("cpu").endswith(f"-{isa}")
    monkeypatch.setenv("FER_CPU_BF16", "1")
    assert cpu_capability() == isa and cpu_bf16_native()
    monkeypatch.setattr(devices, "cpu_bf16_hardware", lambda cpuinfo=None: True)
    assert cpu_capability() == f"{isa}+bf16" and device_slug("cpu").endswith(f"-{isa}-bf16")
    monkeypatch.setenv("FER_CPU_BF16", "0")
    assert cpu_capability() == f"{isa}+bf16" and not cpu_bf16_native()


def test_bf16_on_a_gpu_without_it_starts_no_run_and_auto_takes_fp16(monkeypatch):
    """A GPU that only emulates bf16 (before Ampere) trains `auto` in fp16, refuses a new bf16 run, and still
    re-evaluates (and resumes) a stored bf16 run, emulated, in the arithmetic it trained in."""
    monkeypatch.setattr(devices, "cuda_bf16_native", lambda device=None: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100-SXM2-16GB")
    cuda = torch.device("cuda")
    assert autocast_dtype("auto", cuda) is torch.float16 and autocast_dtype("fp16", cuda) is torch.float16
    with pytest.raises(ValueError, match="Tesla V100-SXM2-16GB has no native bf16; use fp16 or auto"):
        devices.check_new_run_precision("bf16", cuda)
    assert autocast_dtype("bf16", cuda) is torch.bfloat16  # a stored bf16 run rebuilds as it trained
    devices.check_new_run_precision("auto", cuda)
    devices.check_new_run_precision("bf16", torch.device("cpu"))
    monkeypatch.setattr(devices, "cuda_bf16_native", lambda device=None: True)
    assert autocast_dtype("auto", cuda) is torch.bfloat16
    devices.check_new_run_precision("bf16", cuda)


def test_autocast_dtype_per_setting(monkeypatch):
    cpu = torch.device("cpu")
    assert autocast_dtype("fp32", cpu) is None and autocast_dtype("bf16", cpu) is torch.bfloat16
    monkeypatch.setenv("FER_CPU_BF16", "1")
    assert autocast_dtype("auto", cpu) is torch.bfloat16
    monkeypatch.setenv("FER_CPU_BF16", "0")
    assert autocast_dtype("auto", cpu) is None
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        autocast_dtype("fp16", cpu)
    with pytest.raises(ValueError, match="not one of"):
        autocast_dtype("half", cpu)
    assert precision_name(None) == "float32" and precision_name(torch.bfloat16) == "bfloat16"


def test_config_takes_precision_and_refuses_others():
    assert load_config("p3_resnet50_weighted", "full")["train"]["precision"] == "auto"
    assert load_config("p3_resnet50_weighted", "smoke", {"train.precision": "bf16"})["train"]["precision"] == "bf16"
    with pytest.raises(ValueError, match="train.precision='half' is not one of"):
        load_config("p3_resnet50_weighted", "smoke", {"train.precision": "half"})


def test_schema_1_configs_keep_the_precision_they_trained_with():
    old = {"train": {"amp": "auto", "epochs": 2}}
    assert upgrade_stored_config(old, "float32")["train"]["precision"] == "fp32"
    assert upgrade_stored_config(old, "bfloat16")["train"]["precision"] == "bf16"
    assert upgrade_stored_config({"train": {"amp": "off"}}, None)["train"]["precision"] == "fp32"
    assert "amp" not in upgrade_stored_config(old, "float32")["train"]


def test_an_auto_run_keeps_the_precision_it_resolved_to_where_it_started():
    auto = {"train": {"precision": "auto"}}
    assert upgrade_stored_config(auto, "bfloat16")["train"]["precision"] == "bf16"
    assert upgrade_stored_config(auto, "float32")["train"]["precision"] == "fp32"
    assert upgrade_stored_config(auto, None)["train"]["precision"] == "auto"  # nothing recorded: nothing to keep
    assert upgrade_stored_config({"train": {"precision": "fp32"}}, "float32")["train"]["precision"] == "fp32"


def test_a_bf16_run_records_its_precision_and_reevaluates_identically(tmp_path):

    cfg = load_config("p3_resnet50_weighted", "smoke", {"model.name": "tiny_cnn", "model.options": {"width": 8},
                                                        "train.epochs": 2, "train.precision": "bf16",
                                                        "evaluate.bootstrap": 20})
    run = load_run(run_experiment(cfg, seed=0, device="cpu", out_root=tmp_path))
    assert run.manifest["precision"] == "bfloat16" and run.manifest["precision_setting"] == "bf16"
    assert evaluate_run(run.path, splits=["test"], write=False)["test"] == run.metrics["test"]


def test_runs_predict_in_their_own_precision_and_fp16_ones_in_fp32_off_a_gpu():
    cfg = load_config("p3_resnet50_weighted", "smoke")
    checkpoint = {"input_size": 48, "mean": [0.5] * 3, "std": [0.5] * 3}
    cpu = torch.device("cpu")
    assert run_runtime({"config": cfg, "precision": "bfloat16"}, checkpoint, cpu).amp_dtype == torch.bfloat16
    assert run_runtime({"config": cfg, "precision": "float32"}, checkpoint, cpu).amp_dtype is None
    assert run_runtime({"config": cfg, "precision": "float16"}, checkpoint, cpu).amp_dtype is None


def test_metrics_are_not_rewritten_in_another_precision_than_the_run_trained_in(tmp_path):
    cfg = load_config("p3_resnet50_weighted", "smoke", {"model.name": "tiny_cnn", "model.options": {"width": 8},
                                                        "train.epochs": 1, "evaluate.bootstrap": 20})
    run = load_run(run_experiment(cfg, seed=0, device="cpu", out_root=tmp_path))
    path = run.path / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["precision"] = "float16"  # as if `auto` had chosen fp16 on an older GPU
    path.write_text(json.dumps(manifest))
    before = (run.path / "metrics.json").read_text()
    with pytest.raises(ValueError, match="trained in float16, which cpu does not compute.*without --write"):
        evaluate_run(run.path, splits=["test"], write=True)
    assert (run.path / "metrics.json").read_text() == before
    assert "test" in evaluate_run(run.path, splits=["test"], write=False)  # read-only: evaluated in fp32
