"""EPIR network: shapes, the attention map contract, LSA, token integration, DTSM and checkpoints."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from app.errors import InputError
from models.checkpoint import load_checkpoint, save_checkpoint
from models.epir import EPIR, count_parameters
from models.epir_config import EPIRConfig
from models.layers import LocalitySelfAttention, mirror, window_ids

TINY = EPIRConfig(
    image_size=16, patch_size=4, dim=32, depth=3, heads=2, integration_blocks=(0, 1), keep_rate=0.5, dtsm_tokens=3, proj_dim=8
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_outputs_have_the_contract_shapes():
    logits, attention, embedding = EPIR(TINY).eval()(torch.randn(5, 3, 16, 16))
    assert logits.shape == (5, 3)
    assert attention.shape == (5, *TINY.grid) == (5, 4, 4)
    assert embedding.shape == (5, 8)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(5), atol=1e-5)


@pytest.mark.parametrize("training", [False, True])
def test_attention_is_a_distribution_over_the_full_grid(training):
    model = EPIR(TINY).train(training)
    _, attention, _ = model(torch.randn(4, 3, 16, 16))
    assert (attention >= 0).all()
    assert torch.allclose(attention.sum(dim=(1, 2)), torch.ones(4), atol=1e-5)
    # Every initial patch keeps a share: fused tokens spread their attention over what they absorbed.
    assert (attention > 0).all()


def test_token_counts_shrink_through_integration():
    assert TINY.token_counts() == [16, 9, 6, 6]
    seen = []
    model = EPIR(TINY).eval()
    for block in model.blocks:
        block.register_forward_hook(lambda module, inputs, output: seen.append(output[0].shape[1]))
    model(torch.randn(2, 3, 16, 16))
    assert seen == [17, 10, 7]  # class token included; after each block, before integration
    assert EPIR(TINY.plain_vit()).config.token_counts() == [16, 16, 16, 16]


def test_diagonal_attention_is_masked():
    attn = LocalitySelfAttention(8, 2, tokens=2, mask_diagonal=True, learnable_temperature=True, attn_dropout=0.0, dropout=0.0)
    assert torch.isinf(attn.bias.diagonal()).all() and (attn.bias.diagonal() < 0).all()
    x = torch.randn(3, 2, 8)
    changed = x.clone()
    changed[:, 0] = torch.randn(3, 8)
    # With two tokens, token 0 attends only to token 1: its own value cannot reach its output.
    for need_cls_attn in (False, True):
        out, _ = attn(x, need_cls_attn)
        out_changed, cls_attn = attn(changed, need_cls_attn)
        assert torch.allclose(out[:, 0], out_changed[:, 0], atol=1e-6)
    assert torch.allclose(cls_attn, torch.ones(3, 1))  # all of the class token's attention goes elsewhere


def test_export_mode_matches_the_fused_path():
    model = EPIR(TINY).eval()
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        fused = model(x)
        explicit = model.set_export(True)(x)
    for a, b in zip(fused, explicit):
        assert torch.allclose(a, b, atol=1e-5)


def test_gradients_reach_temperature_and_token_scorer():
    model = EPIR(TINY).train()
    logits, _, embedding = model(torch.randn(4, 3, 16, 16))
    (logits.sum() + embedding.sum()).backward()
    assert model.blocks[0].attn.log_scale.grad is not None
    assert model.selection.scorer[1].weight.grad.abs().sum() > 0


def test_default_configuration_fits_the_parameter_budget():
    assert count_parameters(EPIR(EPIRConfig())) <= 2_200_000


def test_invalid_configuration_is_refused():
    with pytest.raises(ValueError, match="patch_size"):
        EPIRConfig(image_size=30, patch_size=4)
    with pytest.raises(ValueError, match="integration_blocks"):
        EPIRConfig(integration_blocks=(5,))
    with pytest.raises(InputError, match="depth"):
        EPIRConfig().with_overrides(["depth=x"])


def test_checkpoint_round_trip(tmp_path):
    model = EPIR(TINY).eval()
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, model, ["negative", "positive", "surprise"], training={"synthetic": True})
    loaded, checkpoint = load_checkpoint(path, expected=TINY)
    assert checkpoint["classes"] == ["negative", "positive", "surprise"]
    assert checkpoint["training"] == {"synthetic": True}
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x)[0], loaded(x)[0])


def test_checkpoint_from_another_configuration_is_a_clear_error(tmp_path):
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, EPIR(TINY), ["a", "b", "c"])
    with pytest.raises(InputError) as error:
        load_checkpoint(path, expected=EPIRConfig())
    message = str(error.value)
    assert str(path) in message and "dim: 32 != 96" in message and "depth: 3 != 6" in message


def test_weights_that_do_not_fit_the_configuration_are_a_clear_error(tmp_path):
    path = tmp_path / "tampered.pt"
    save_checkpoint(path, EPIR(TINY), ["a", "b", "c"])
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["config"]["proj_dim"] = 16
    torch.save(checkpoint, path)
    with pytest.raises(InputError, match="wrong shape"):
        load_checkpoint(path)
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(InputError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")


def test_conv_stem_keeps_the_patch_grid_and_survives_a_checkpoint(tmp_path):
    config = TINY.with_overrides(["conv_stem=4,8", "shifted_patches=false"])
    assert config.conv_stem == (4, 8) and EPIRConfig(conv_stem=[4]).conv_stem == (4,)
    model = EPIR(config).train()
    model(torch.randn(8, 3, 16, 16))  # moves the BatchNorm running statistics away from their initial values
    model.eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        logits, attention, _ = model(x)
    assert attention.shape == (2, *TINY.grid) and torch.allclose(attention.sum(dim=(1, 2)), torch.ones(2), atol=1e-5)
    path = tmp_path / "stem.pt"
    save_checkpoint(path, model, ["negative", "positive", "surprise"])
    loaded, _ = load_checkpoint(path, expected=config)
    with torch.no_grad():
        assert torch.equal(logits, loaded(x)[0])
    with pytest.raises(ValueError, match="conv_stem"):
        EPIRConfig(conv_stem=(0,))


def test_mirror_average_sees_a_face_and_its_mirror_alike_at_inference_only():
    config = replace(TINY, mirror_average=True, mirror_offset=1.0)
    model = EPIR(config).eval()
    x = torch.rand(3, 3, 16, 16)
    mirrored = mirror(x, config.mirror_negate, config.mirror_offset)
    with torch.no_grad():
        logits, attention, _ = model(x)
        logits_m, attention_m, _ = model(mirrored)
        once = [model.forward_once(v)[0].softmax(dim=1) for v in (x, mirrored)]
    # The mean of the two distributions, the same for the face and its mirror; the map is flipped back.
    assert torch.allclose(logits.softmax(dim=1), (once[0] + once[1]) / 2, atol=1e-6)
    assert torch.allclose(logits, logits_m, atol=1e-5)
    assert torch.allclose(attention, attention_m.flip(-1), atol=1e-6)
    assert torch.allclose(attention.sum(dim=(1, 2)), torch.ones(3), atol=1e-5)
    # Training sees single inputs (the mirror is an augmentation there); without the option nothing changes.
    plain = EPIR(TINY).eval()
    plain.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(plain(x)[0], model.forward_once(x)[0])
        assert not torch.allclose(plain(x)[0].softmax(dim=1), logits.softmax(dim=1))
    model.train()
    assert model(x)[0].shape == (3, 3)
    with pytest.raises(ValueError, match="mirror_negate"):
        replace(TINY, mirror_negate=(3,))


def test_local_blocks_keep_each_patch_inside_its_window():
    local = replace(TINY, local_blocks=1, integration_blocks=(1,))
    assert window_ids(4, 2).tolist() == [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3]
    x = torch.randn(2, 3, 16, 16)
    changed = x.clone()
    changed[:, :, 12:, 12:] = torch.randn(2, 3, 4, 4)  # the bottom-right window only, beyond the 2-px shifts
    top_left = [1, 2, 5, 6]  # its tokens (class token first)
    for config, isolated in ((local, True), (replace(TINY, integration_blocks=(1,)), False)):
        model = EPIR(config).eval()
        seen = []
        model.blocks[0].register_forward_hook(lambda module, inputs, output: seen.append(output[0][:, top_left]))
        with torch.no_grad():
            model(x), model(changed)
        assert torch.allclose(seen[0], seen[1], atol=1e-6) == isolated
    with pytest.raises(ValueError, match="integration_blocks"):
        replace(TINY, local_blocks=2)  # TINY integrates after block 0, inside the local stage
    with pytest.raises(ValueError, match="local_window"):
        replace(TINY, local_blocks=1, local_window=3, integration_blocks=(1,))


def test_spatial_integration_merges_each_2x2_cell_into_one_wider_token():
    spatial = replace(TINY, local_blocks=1, integration_blocks=(1,), integration="spatial")
    assert spatial.token_counts() == [16, 16, 4, 4] and spatial.widths() == [32, 32, 64]
    model = EPIR(spatial).eval()
    outputs = []
    for block in model.blocks:
        block.register_forward_hook(lambda module, inputs, output: outputs.append(output))
    x = torch.randn(2, 3, 16, 16)
    logits, attention, _ = model(x)
    assert [tuple(o[0].shape[1:]) for o in outputs] == [(17, 32), (17, 32), (5, 64)] and logits.shape == (2, 3)
    # The last block attends over the four cells' tokens; each cell's share goes to its 2x2 patches as the class
    # token attended to them in the block before the integration (block 1), so the map keeps the patch grid.
    before, last = outputs[1][1].reshape(2, 2, 2, 2, 2), outputs[2][1]  # [N, cell row, patch row, cell col, patch col]
    within = before / before.sum(dim=(2, 4), keepdim=True)
    expected = within * last.reshape(2, 2, 1, 2, 1)
    assert torch.allclose(attention, expected.reshape(2, 4, 4), atol=1e-5)
    assert torch.allclose(attention.sum(dim=(1, 2)), torch.ones(2), atol=1e-5)
    # The top-left cell's new token sees its own patches and their neighbours (3x3 convolution, then a 3x3
    # max-pool of stride 2: patch rows and columns 0-2), not the far corner's patch (3, 3).
    tokens, cls_attn = torch.randn(2, 17, 32), torch.full((2, 16), 1 / 16)
    integrate = model.integrations["1"]
    with torch.no_grad():
        merged = integrate(tokens, cls_attn)[0][:, 1]
        for patch, reached in ((15, False), (11, False), (10, True), (0, True)):  # (3, 3), (2, 3), (2, 2), (0, 0)
            changed = tokens.clone()
            changed[:, 1 + patch] = torch.randn(2, 32)
            assert (not torch.allclose(integrate(changed, cls_attn)[0][:, 1], merged)) == reached, patch
    for bad in (dict(integration="pooled"), dict(region_boxes=(0, 0, 6), region_size=8),
                dict(integration_blocks=(0, 1))):  # a 4-patch grid halves once to 2x2, not twice
        with pytest.raises(ValueError, match="integration"):
            replace(spatial, **bad)


def test_region_zoom_resamples_fixed_boxes_and_keeps_the_attention_on_the_face():
    # 6-pixel boxes of the 16-pixel image, zoomed to 8 pixels (4 tokens each), beside the whole face's 16 tokens.
    config = replace(TINY, region_boxes=(0, 1, 6, 0, 9, 6, 9, 5, 6), region_size=8)
    model = EPIR(config).eval()
    assert config.token_counts()[0] == 16 + 3 * 4
    x = torch.rand(2, 3, 16, 16)
    zoomed = model.zoom(x).reshape(2, 3, 3, 8, 8)
    # Inside the box the crop is bilinear resizing of the box (at its border it reads the pixels beyond it).
    expected = torch.nn.functional.interpolate(x[:, :, 0:6, 9:15], size=8, mode="bilinear", align_corners=False)
    assert torch.allclose(zoomed[:, 1, :, 1:-1, 1:-1], expected[..., 1:-1, 1:-1], atol=1e-6)
    # A region token's attention lands on the face patches its box covers.
    assert model.token_area.shape == (28, 16) and torch.allclose(model.token_area.sum(dim=1), torch.ones(28))
    top_left = model.token_area[16 + 4]  # box 1's top-left token: columns 9-11.5, rows 0-3 -> patch (0, 2)
    assert int(top_left.argmax()) == 2 and top_left[2] > 0.9 and top_left.nonzero().flatten().tolist() == [2, 3]
    logits, attention, _ = model(x)
    assert logits.shape == (2, 3) and attention.shape == (2, *TINY.grid)
    assert torch.allclose(attention.sum(dim=(1, 2)), torch.ones(2), atol=1e-5)
    # Regions only; and with local attention each box is one window of its own.
    alone = replace(config, region_whole=False, local_blocks=1, integration_blocks=(1,))
    assert alone.token_windows().tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert EPIR(alone).eval()(x)[1].shape == (2, *TINY.grid)
    for bad in (dict(region_boxes=(0, 0, 17)), dict(region_boxes=(0, 0)), dict(region_boxes=(0, 0, 6), region_size=6),
                dict(region_whole=False)):
        with pytest.raises(ValueError, match="region"):
            replace(TINY, **bad)
