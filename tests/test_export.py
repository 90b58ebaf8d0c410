"""ONNX export: ORT parity, dynamic batch, the model card round trip and the CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from app.cli import main as cli_main
from app.errors import InputError
from app.model_card import InputSpec, ModelCard
from models.checkpoint import load_checkpoint, save_checkpoint
from models.epir import EPIR, EPIREnsemble
from models.epir_config import EPIRConfig
from models.export import export_onnx

TINY = EPIRConfig(
    image_size=16, patch_size=4, dim=32, depth=3, heads=2, integration_blocks=(0, 1), keep_rate=0.5, dtsm_tokens=3, proj_dim=8
)
CLASSES = ("negative", "positive", "surprise")


def tiny_card(**changes) -> ModelCard:
    values = dict(
        name="EPIR-test",
        version="0.0.1",
        classes=CLASSES,
        input=InputSpec(height=16, width=16),
        attention_grid=(1, 1),  # the exporter fills it from the model
        training={"dataset": "synthetic", "protocol": "loso", "synthetic": True},
        metrics={"uf1": 0.5},
    )
    values.update(changes)
    return ModelCard(**values)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = EPIR(TINY).eval()
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    check = export_onnx(model, tiny_card(), path)
    return model, path, check


@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_runtime_matches_pytorch(exported, batch):
    model, path, check = exported
    assert check.max_logit_diff < 1e-4
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["flow"]
    assert [o.name for o in session.get_outputs()] == ["logits", "attention"]
    flow = torch.randn(batch, 3, 16, 16)
    with torch.no_grad():
        logits, attention, _ = model(flow)
    ort_logits, ort_attention = session.run(None, {"flow": flow.numpy()})
    assert ort_logits.shape == (batch, 3) and ort_attention.shape == (batch, 4, 4)
    assert np.abs(ort_logits - logits.numpy()).max() < 1e-4
    assert np.abs(ort_attention - attention.numpy()).max() < 1e-4
    assert np.allclose(ort_attention.sum(axis=(1, 2)), 1.0, atol=1e-5)


def test_metadata_round_trip(exported):
    _, path, _ = exported
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    card = ModelCard.from_metadata(props, str(path))
    assert card.classes == CLASSES
    assert card.attention_grid == TINY.grid
    assert card.synthetic and card.metrics == {"uf1": 0.5}
    architecture = card.architecture
    assert architecture["config"]["dim"] == 32
    assert architecture["follows_paper"] and architecture["reconstructed"]
    assert any("reconstructed" in c for c in card.caveats)


def test_card_that_disagrees_with_the_model_is_refused(tmp_path):
    with pytest.raises(InputError, match="2 class names for a 3-class model"):
        export_onnx(EPIR(TINY), tiny_card(classes=("a", "b")), tmp_path / "x.onnx")
    with pytest.raises(InputError, match="28x28"):
        export_onnx(EPIR(TINY), tiny_card(input=InputSpec()), tmp_path / "x.onnx")


def test_export_command(tmp_path, capsys):
    checkpoint = tmp_path / "tiny.pt"
    save_checkpoint(checkpoint, EPIR(TINY), list(CLASSES), input={"height": 16, "width": 16})
    extra = tmp_path / "card.json"
    extra.write_text(json.dumps({"training": {"synthetic": True, "dataset": "synth"}, "metrics": {"uar": 0.9}}))
    out = tmp_path / "model.onnx"
    assert cli_main(["export", "--checkpoint", str(checkpoint), "--out", str(out), "--card-json", str(extra)]) == 0
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    card = ModelCard.from_metadata(props, str(out))
    assert card.synthetic and card.metrics == {"uar": 0.9} and card.input.height == 16
    assert "synthetic" in capsys.readouterr().out
    assert cli_main(["export", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(out)]) == 2


def test_conv_stem_exports_with_parity(tmp_path):
    torch.manual_seed(0)
    model = EPIR(replace(TINY, conv_stem=(4, 8))).train()
    model(torch.randn(8, 3, 16, 16))  # BatchNorm running statistics that are not the identity
    check = export_onnx(model.eval(), tiny_card(), tmp_path / "stem.onnx")
    assert check.max_logit_diff < 1e-4 and check.max_attention_diff < 1e-4


def test_ensemble_exports_as_one_file_with_parity_and_says_so(tmp_path):
    torch.manual_seed(0)
    ensemble = EPIREnsemble([EPIR(TINY), EPIR(TINY)]).eval()
    check = export_onnx(ensemble, tiny_card(), tmp_path / "ensemble.onnx")
    assert check.max_logit_diff < 1e-4 and check.max_attention_diff < 1e-4
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "ensemble.onnx")).metadata_props}
    card = ModelCard.from_metadata(props, "ensemble.onnx")
    assert card.architecture["ensemble"]["members"] == 2 and card.attention_grid == TINY.grid
    save_checkpoint(tmp_path / "ensemble.pt", ensemble, CLASSES)
    loaded, checkpoint = load_checkpoint(tmp_path / "ensemble.pt", expected=TINY)
    assert checkpoint["members"] == 2 and isinstance(loaded, EPIREnsemble)
    flow = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(flow)[0], ensemble(flow)[0])
    with pytest.raises(ValueError, match="at least two"):
        EPIREnsemble([EPIR(TINY)])


def test_mirror_average_exports_with_parity(tmp_path):
    torch.manual_seed(0)
    model = EPIR(replace(TINY, mirror_average=True, mirror_offset=1.0)).eval()
    path = tmp_path / "mirror.onnx"
    check = export_onnx(model, tiny_card(), path)
    assert check.max_logit_diff < 1e-4 and check.max_attention_diff < 1e-4
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    flow = np.random.default_rng(0).random((2, 3, 16, 16), dtype=np.float32)
    mirrored = flow[..., ::-1].copy()
    mirrored[:, 0] = 1.0 - mirrored[:, 0]
    logits, attention = session.run(None, {"flow": flow})
    logits_m, attention_m = session.run(None, {"flow": mirrored})
    assert np.allclose(logits, logits_m, atol=1e-4) and np.allclose(attention, attention_m[..., ::-1], atol=1e-5)


def test_local_attention_exports_with_parity(tmp_path):
    torch.manual_seed(0)
    model = EPIR(replace(TINY, local_blocks=1, integration_blocks=(1,))).eval()
    check = export_onnx(model, tiny_card(), tmp_path / "local.onnx")
    assert check.max_logit_diff < 1e-4 and check.max_attention_diff < 1e-4


def test_spatial_integration_exports_with_parity(tmp_path):
    torch.manual_seed(0)
    model = EPIR(replace(TINY, local_blocks=1, integration_blocks=(1,), integration="spatial")).eval()
    check = export_onnx(model, tiny_card(), tmp_path / "spatial.onnx")
    assert check.max_logit_diff < 1e-4 and check.max_attention_diff < 1e-4
    ops = {node.op_type for node in onnx.load(str(tmp_path / "spatial.onnx")).graph.node}
    assert {"Conv", "MaxPool"} <= ops


def test_region_zoom_exports_with_parity_within_the_budget(tmp_path):
    """The shipped recipe's network with attentive integration and HTNet's four face areas zoomed: exports,
    agrees, stays <= 2.2 M (spatial integration needs the bare patch grid)."""
    from models.epir import count_parameters
    from models.epir_config import FACE_REGIONS_28
    from models.megc2019_recipe import RECIPE

    torch.manual_seed(0)
    recipe = {k: tuple(v) if isinstance(v, list) else v for k, v in RECIPE["model"].items()}
    config = EPIRConfig(**{**recipe, "integration": "attention", "local_blocks": 1}, region_boxes=FACE_REGIONS_28)
    model = EPIR(config).eval()
    assert count_parameters(model) <= 2_200_000
    card = tiny_card(input=InputSpec(height=28, width=28))
    check = export_onnx(model, card, tmp_path / "regions.onnx")
    assert check.max_logit_diff < 1e-4 and check.max_attention_diff < 1e-4
    ops = {node.op_type for node in onnx.load(str(tmp_path / "regions.onnx")).graph.node}
    assert "MatMul" in ops and not ops & {"Resize", "GridSample", "Loop"}
