"""fer_lib.models: registry, exact parameter counts, shapes, gradients, weights loading, CLI."""

from __future__ import annotations

import pytest
import torch

from fer_lib.cli import main
from fer_lib.models import WeightsUnavailableError, count_params, create_model, list_models, model_spec
from fer_lib.models.swin_spst_ema import EMA, ema_params



# Exact counts printed by the papers (7 classes), or the architecture's definition.
P4_TARGETS = [
    ({}, 27_524_737),                                  # P4 Table 1 / 6: original Swin-T
    ({"ema_after": 2}, 27_526_225),                    # P4 Table 1 / 6
    ({"spst_stage": 4}, 23_185_251),                   # P4 Table 1 / 2 / 6
    ({"spst_stage": 4, "ema_after": 2}, 23_186_739),   # P4 Table 1 / 5 / 6
    ({"spst_stage": 4, "ema_after": 1}, 23_185_635),   # P4 Table 5
]


@pytest.mark.parametrize("options,target", P4_TARGETS, ids=lambda v: str(v))
def test_p4_parameter_counts_are_exact(options, target):
    assert count_params(create_model("swin_spst_ema", num_classes=7, **options)) == target


def test_reference_counts_resnet50_swin_t_and_convnextv2_atto():
    assert count_params(create_model("resnet50")) == 23_522_375      # torchvision/timm ResNet-50, 7 classes
    assert count_params(create_model("swin_t")) == 27_524_737        # P4 Table 1 (= timm Swin-T, 7 classes)
    assert count_params(create_model("lc2fer_c1")) == 3_389_647      # timm convnextv2_atto, 7 classes


def test_p2_sizes_round_to_the_papers():
    sizes = {c: count_params(create_model(f"lc2fer_{c}")) for c in ("c1", "c2", "c3")}
    assert round(sizes["c1"] / 1e6, 1) == 3.4   # P2: C1 about 3.4 M
    assert round(sizes["c2"] / 1e6, 1) == 1.9   # P2: C2 about 1.9 M
    assert round(sizes["c3"] / 1e6, 1) == 7.5   # P2: C3 about 7.5 M
    assert round(sizes["c3"] / sizes["c2"], 1) == 3.9  # P2: C3 is 3.9x C2


def test_ema_parameter_formula_and_shape():
    for channels in (192, 384, 768):
        c = channels // 32
        ema = EMA(channels, 32)
        assert count_params(ema) == ema_params(channels) == 10 * c * c + 4 * c
        x = torch.randn(2, channels, 7, 7)
        assert ema(x).shape == x.shape
    assert ema_params(384) == 27_526_225 - 27_524_737  # P4 Table 1: EMA after stage 2 adds 1488
    with pytest.raises(ValueError, match="groups"):
        EMA(100, 32)


@torch.no_grad()
def test_original_swin_stage_outputs():
    model = create_model("swin_spst_ema", ema_after=2).eval()
    outs = model.stage_outputs(torch.randn(1, 3, 224, 224))
    assert [tuple(o.shape[1:]) for o in outs] == [(28, 28, 192), (14, 14, 384), (7, 7, 768), (7, 7, 768)]
    sparse = create_model("swin_spst_ema", spst_stage=4).eval()
    outs = sparse.stage_outputs(torch.randn(1, 3, 224, 224))
    assert tuple(outs[2].shape[1:]) == (7, 7, 768) and tuple(outs[3].shape[1:]) == (49, 512)


@pytest.mark.parametrize("name", list_models())
def test_every_model_forward_head_and_gradients(name):
    torch.manual_seed(0)
    size = model_spec(name).input_size
    batch = 1 if size >= 224 else 2
    model = create_model(name, num_classes=5)
    x = torch.randn(batch, 3, size, size)
    logits = model(x)
    assert logits.shape == (batch, 5)
    logits.square().sum().backward()
    first_name, first = next(iter(model.named_parameters()))
    assert first.grad is not None and first.grad.abs().sum() > 0, f"no gradient at {first_name}"
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing[:5]}"
    model.eval()
    with torch.no_grad():
        feats = model.forward_head(model.forward_features(x), pre_logits=True)
        assert feats.ndim == 2 and feats.shape[0] == batch and feats.shape[1] == model.num_features
        torch.testing.assert_close(model.forward_head(model.forward_features(x)), model(x))
    assert model.model_name == name and set(model.model_options) == set(model_spec(name).options)
    assert model.pretrained_source == "none: trained from scratch"


@pytest.mark.parametrize("name,options,expect", [
    ("lc2fer_c1", {}, (320, 3, 3)), ("lc2fer_c2", {}, (256, 4, 4)), ("lc2fer_c5", {}, (256, 8, 8)),
    ("swin_t", {}, (768, 7, 7)), ("swin_spst_ema", {"spst_stage": 4, "ema_after": 3}, (768, 7, 7)),
    ("swin_spst_ema", {"spst_stage": 2}, (768, 7, 7)), ("swin_se_resnet", {}, (768, 7, 7)),
    ("resnet50", {}, (2048, 2, 2)), ("tiny_cnn", {}, (64, 12, 12)),
])
@torch.no_grad()
def test_gradcam_layers_give_nchw_maps(name, options, expect):
    model = create_model(name, **options).eval()
    size = model_spec(name).input_size
    seen = []
    handle = model.gradcam_layers[0].register_forward_hook(lambda m, i, o: seen.append(o))
    model(torch.randn(1, 3, size, size))
    handle.remove()
    out = model.gradcam_reshape(seen[0]) if model.gradcam_reshape else seen[0]
    assert tuple(out.shape[1:]) == expect


def test_pytorch_grad_cam_runs_on_a_swin_model():
    from pytorch_grad_cam import GradCAM

    model = create_model("swin_spst_ema", spst_stage=4, ema_after=2).eval()
    cam = GradCAM(model=model, target_layers=model.gradcam_layers, reshape_transform=model.gradcam_reshape)
    heat = cam(input_tensor=torch.randn(1, 3, 224, 224), targets=None)
    assert heat.shape == (1, 224, 224)


@pytest.mark.parametrize("stage", [1, 2, 3])
@torch.no_grad()
def test_spst_at_early_stages_keeps_later_stages(stage):
    model = create_model("swin_spst_ema", spst_stage=stage).eval()
    assert isinstance(model.layers[stage - 1].blocks, torch.nn.Identity)
    assert len(model.layers[3].blocks) == 2  # the Swin stage 4 stays
    assert model(torch.randn(1, 3, 224, 224)).shape == (1, 7)


def test_unknown_names_and_bad_options_are_rejected_clearly():
    with pytest.raises(ValueError, match="registered models: .*swin_spst_ema"):
        create_model("swin_tiny")
    with pytest.raises(ValueError, match="unknown option.*spst_stages.*valid options.*spst_stage=None"):
        create_model("swin_spst_ema", spst_stages=4)
    with pytest.raises(ValueError, match="spst_stage=5 is not one of"):
        create_model("swin_spst_ema", spst_stage=5)
    with pytest.raises(ValueError, match="ema_after=True"):
        create_model("swin_spst_ema", ema_after=True)
    with pytest.raises(ValueError, match="use_se='yes' must be bool"):
        create_model("swin_se_resnet", use_se="yes")
    with pytest.raises(ValueError, match="split_groups=5 must divide"):
        create_model("swin_se_resnet", split_groups=5)
    with pytest.raises(ValueError, match="num_classes"):
        create_model("tiny_cnn", num_classes=0)
    with pytest.raises(ValueError, match="no ImageNet weights"):
        create_model("lc2fer_c5", pretrained=True)


def test_p1_ablation_options_change_the_architecture():
    full = create_model("swin_se_resnet")
    assert full.num_features == 768 + 2048
    bare = create_model("swin_se_resnet", use_se=False, use_split_conv=False, use_resnet_branch=False)
    assert bare.num_features == 768 and bare.resnet is None
    assert count_params(full) - count_params(bare) == (
        count_params(full.se) + count_params(full.split_conv) + count_params(full.resnet) + 2048 * 7)
    assert create_model("swin_se_resnet", pool_kernel=3).num_features == 768 * 4 + 2048


def test_local_weights_load_into_the_kept_parts(tmp_path):
    torch.manual_seed(1)
    swin = create_model("swin_t", num_classes=1000)
    with torch.no_grad():
        for p in swin.parameters():
            p.add_(0.5)  # values a fresh model cannot have by chance
    path = tmp_path / "swin_tiny.pth"
    torch.save(swin.state_dict(), path)
    model = create_model("swin_spst_ema", spst_stage=4, ema_after=2, pretrained=str(path))
    torch.testing.assert_close(model.layers[2].blocks[5].mlp.fc2.weight, swin.layers[2].blocks[5].mlp.fc2.weight)
    torch.testing.assert_close(model.patch_embed.proj.weight, swin.patch_embed.proj.weight)
    report = model.pretrained_report[0]
    assert any(k.startswith("spst.") for k in report["missing"]) and any(k.startswith("ema.") for k in report["missing"])
    assert "head.fc.weight" in report["head_skipped"]
    assert model.pretrained_source == f"model: {path}"
    # the same file loads as-is into swin_t, skipping the 1000-class head for 7 classes
    same = create_model("swin_t", pretrained=path)
    torch.testing.assert_close(same.norm.weight, swin.norm.weight)
    assert same.head.fc.weight.shape == (7, 768)


def test_hybrid_branches_and_whole_checkpoints_load(tmp_path):
    torch.manual_seed(2)
    resnet = create_model("resnet50", num_classes=1000)
    with torch.no_grad():
        resnet.conv1.weight.fill_(0.25)
    torch.save(resnet.state_dict(), tmp_path / "resnet50.pth")
    model = create_model("swin_se_resnet", resnet_weights=str(tmp_path / "resnet50.pth"))
    assert torch.all(model.resnet.conv1.weight == 0.25)
    assert "resnet:" in model.pretrained_source and "swin:" not in model.pretrained_source
    assert model.model_options["resnet_weights"] is None  # checkpoints rebuild without re-fetching weights
    # a whole trained checkpoint (ENGINE format: {"model_state": ...}) with another head size
    small = create_model("tiny_cnn", num_classes=3)
    with torch.no_grad():
        small.features[0][0].weight.fill_(0.125)
    torch.save({"model_state": small.state_dict(), "epoch": 1}, tmp_path / "best.pt")
    loaded = create_model("tiny_cnn", num_classes=7, pretrained=tmp_path / "best.pt")
    assert torch.all(loaded.features[0][0].weight == 0.125)
    assert loaded.pretrained_report[0]["head_skipped"] == ["fc.weight", "fc.bias"]
    with pytest.raises(ValueError, match="do not fit the model"):
        create_model("tiny_cnn", width=8, pretrained=tmp_path / "best.pt")
    with pytest.raises(FileNotFoundError, match="not found"):
        create_model("tiny_cnn", pretrained=tmp_path / "absent.pth")


def test_missing_hub_weights_name_the_file_and_option(monkeypatch):
    import fer_lib.models.pretrained as pretrained

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(pretrained, "_cached_weights", lambda name: None)
    with pytest.raises(WeightsUnavailableError, match="swin_tiny_patch4_window7_224.*swin_weights='/path/to/file'"):
        create_model("swin_se_resnet", pretrained=True)
    with pytest.raises(WeightsUnavailableError, match="resnet50-0676ba61.pth.*pretrained="):
        create_model("resnet50", pretrained=True)


def test_cli_params_prints_the_count_last(capsys):
    assert main(["models", "params", "swin_spst_ema", "--set", "spst_stage=4", "--set", "ema_after=2"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "23186739"
    assert main(["models", "params", "lc2fer_c1", "--set", "num_classes=7", "--set", "drop_path_rate=0.0"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "3389647"
    assert main(["models", "params", "swin_spst_ema", "--set", "spst_stage=9"]) == 2
    assert "not one of" in capsys.readouterr().err


def test_cli_value_parsing():
    from fer_lib.commands.models import parse_sets

    assert parse_sets(["a=None", "b=true", "c=3", "d=0.5", "e=text"]) == dict(a=None, b=True, c=3, d=0.5, e="text")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_sets(["novalue"])


@torch.no_grad()
def test_spst_at_sparseswin_placement_reads_the_unmerged_stage3_map():
    """spst_input='stage3_output' is the official SparseSwin placement: SparTa on the 14x14x384 stage-3 output
    (no last patch merging); its count is SparseSwin's own example's, not P4's (the P4-spst-placement finding)."""
    model = create_model("swin_spst_ema", spst_stage=4, spst_input="stage3_output").eval()
    assert isinstance(model.layers[3].downsample, torch.nn.Identity)
    assert model.spst.convert.in_channels == 384 and model.spst.to_latent.in_features == 14 * 14
    assert count_params(model) == 20_240_262
    assert count_params(create_model("swin_spst_ema", spst_stage=4)) == 23_185_251
    assert model(torch.randn(1, 3, 224, 224)).shape == (1, 7)
    with pytest.raises(ValueError, match="needs spst_stage=4"):
        create_model("swin_spst_ema", spst_stage=2, spst_input="stage3_output")
