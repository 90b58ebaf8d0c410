"""EPIR, reconstructed from the abstract of arXiv 2604.08106 and its public ancestors (DESIGN.md 4).

``EPIR(config)(flow) -> (logits [N, K], attention [N, h, w], embedding [N, P])``

- DNSPT: shifted patch tokenization with Dual PatchNorm (``layers.ShiftedPatchTokenizer``).
- Transformer blocks with Locality Self-Attention: the diagonal (self-token) attention is masked out
  and the temperature is learnable (``layers.LocalitySelfAttention``).
- Token integration after chosen blocks: the most attended tokens are kept, the rest fused into one
  token weighted by attention (``layers.TokenIntegration``); or, with ``integration="spatial"``, each
  2x2 cell of the patch grid merged into one token of twice the width by a 3x3 convolution and a max-pool,
  as the aggregation between HTNet's levels (``layers.SpatialIntegration``).
- DTSM: key tokens selected before the head (``layers.DynamicTokenSelection``).

``attention`` is the class token's attention in the last block, mapped back onto the full initial
patch grid: every token carries a provenance row (which initial patches it stands for, with what
share), merged exactly like the tokens, so a fused token spreads its attention over the patches it
absorbed. ``embedding`` is an L2-normalised projection for the supervised contrastive loss.

Every reconstructed choice is a field of ``EPIRConfig`` (``models.epir_config``); ``EPIRConfig.plain_vit()`` switches token
integration and selection off, giving the baseline of equal depth and width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.epir_config import EPIRConfig
from models.layers import (
    Block, DynamicTokenSelection, RegionZoom, ShiftedPatchTokenizer, SpatialIntegration, TokenIntegration, mirror,
)


class EPIR(nn.Module):
    """The EPIR micro-expression classifier over an onset→apex flow image."""

    def __init__(self, config: EPIRConfig = EPIRConfig()):
        super().__init__()
        self.config = c = config
        counts = c.token_counts()

        def tokenizer(size: int) -> ShiftedPatchTokenizer:
            return ShiftedPatchTokenizer(c.in_channels, size, c.patch_size, c.dim, c.shifted_patches, c.shift_pixels,
                                         c.shift_padding, c.dual_norm, c.conv_stem)

        self.tokenizer = tokenizer(c.image_size) if c.region_whole else None
        self.zoom = RegionZoom(c.boxes(), c.region_size, c.image_size) if c.region_boxes else None
        self.region_tokenizer = tokenizer(c.region_size) if c.region_boxes else None
        # Each initial token's share of the whole face's patches (None: the tokens are those patches).
        area = None
        if self.zoom is not None:
            area = self.zoom.patch_shares(c.patch_size, c.image_size)
            if c.region_whole:
                area = torch.cat([torch.eye(c.grid[0] * c.grid[1]), area])
        self.register_buffer("token_area", area, persistent=False)
        # Row 0 is the class token (its embedding and position in one), so the token is prepended by a Pad.
        self.pos_embed = nn.Parameter(torch.zeros(1, counts[0] + 1, c.dim))
        self.pos_drop = nn.Dropout(c.dropout)
        windows = c.token_windows()
        widths = c.widths()
        self.blocks = nn.ModuleList(
            Block(
                widths[i],
                c.heads * widths[i] // c.dim,
                counts[i] + 1,
                c.mlp_ratio,
                drop_path=c.drop_path * i / max(1, c.depth - 1),
                mask_diagonal=c.mask_diagonal,
                learnable_temperature=c.learnable_temperature,
                attn_dropout=c.attn_dropout,
                dropout=c.dropout,
                windows=windows if i < c.local_blocks else None,
            )
            for i in range(c.depth)
        )
        self.integrations = nn.ModuleDict({
            str(i): SpatialIntegration(widths[i], int(counts[i] ** 0.5)) if c.integration == "spatial"
            else TokenIntegration(counts[i], c.kept(counts[i]))
            for i in c.integration_blocks})
        width = widths[-1]
        self.norm = nn.LayerNorm(width)
        self.selection = (
            DynamicTokenSelection(width, counts[-1], c.dtsm_tokens, c.dtsm_scorer, c.dtsm_temperature) if c.dtsm_tokens else None
        )
        features = width * (2 if self.selection is not None else 1)
        self.head = nn.Linear(features, c.num_classes)
        self.projection = nn.Sequential(nn.Linear(features, c.dim), nn.GELU(), nn.Linear(c.dim, c.proj_dim))
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for integration in self.integrations.values():
            if isinstance(integration, SpatialIntegration):
                nn.init.trunc_normal_(integration.pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def set_export(self, enabled: bool = True) -> "EPIR":
        """Export mode: explicit-softmax attention everywhere (no fused SDPA kernels in the graph)."""
        for block in self.blocks:
            block.attn.fused = not enabled
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """With ``mirror_average``, in eval mode: the mean of the input's and its mirror's predictions.

        Both go through the network as one batch. The logits returned are the log of the mean class
        probabilities (softmax gives back that mean exactly); the mirror's attention map is flipped back
        onto the face before the two maps are averaged.
        """
        c = self.config
        if not c.mirror_average or self.training:
            return self.forward_once(x)
        logits, attention, embedding = self.forward_once(torch.cat([x, mirror(x, c.mirror_negate, c.mirror_offset)]))
        probabilities = logits.softmax(dim=-1).reshape(2, -1, logits.shape[-1]).mean(dim=0)
        attention = attention.reshape(2, -1, *attention.shape[1:])
        attention = (attention[0] + attention[1].flip(-1)) / 2
        embedding = F.normalize(embedding.reshape(2, -1, embedding.shape[-1]).mean(dim=0), dim=-1)
        return torch.log(probabilities.clamp_min(1e-12)), attention, embedding

    def tokenize(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] -> [N, T, dim]: the whole face's patch tokens, then each zoomed region's."""
        parts = [self.tokenizer(x)] if self.tokenizer is not None else []
        if self.zoom is not None:
            regions = self.region_tokenizer(self.zoom(x))  # [N * boxes, region tokens, dim]
            parts.append(regions.reshape(-1, self.zoom.boxes * regions.shape[1], regions.shape[2]))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def forward_once(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c = self.config
        x = self.pos_drop(F.pad(self.tokenize(x), (0, 0, 1, 0)) + self.pos_embed)
        provenance = self.token_area  # [(N,) T, grid]: share of each initial patch in each token; None = identity
        cls_attn = None
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            integrate = self.integrations[str(i)] if str(i) in self.integrations else None
            attentive = isinstance(integrate, TokenIntegration)
            # spatial integration reads the class token's attention only for the map, which training never uses
            need = attentive or i == last or (integrate is not None and not self.training)
            x, cls_attn = block(x, need_cls_attn=need)
            if attentive:
                patches, merge = integrate(cls_attn, x[:, 1:])
                x = torch.cat([x[:, :1], patches], dim=1)
            elif integrate is not None:
                x, merge = integrate(x, cls_attn)
            if integrate is not None:
                provenance = merge if provenance is None else merge @ provenance
        attention = cls_attn if provenance is None else (cls_attn.unsqueeze(1) @ provenance).squeeze(1)
        attention = attention.reshape(-1, *c.grid)
        x = self.norm(x)
        features = x[:, 0]
        if self.selection is not None:
            features = torch.cat([features, self.selection(x[:, 1:], cls_attn)], dim=1)
        embedding = F.normalize(self.projection(features), dim=-1)
        return self.head(features), attention, embedding


class EPIREnsemble(nn.Module):
    """EPIR models of one configuration, trained with different seeds, run as one network.

    On the 442 published MEGC2019 flows two seeds of one recipe differ by up to 0.05 UF1; averaging the
    members' logits removes part of that variance. The outputs keep EPIR's contract: the mean of the
    logits, the mean of the attention maps (still a distribution over the patch grid) and the normalised
    mean of the embeddings.
    """

    def __init__(self, members: list[EPIR]):
        super().__init__()
        if len(members) < 2 or any(m.config != members[0].config for m in members):
            raise ValueError("an ensemble needs at least two EPIR models of one configuration")
        self.config = members[0].config
        self.members = nn.ModuleList(members)

    def set_export(self, enabled: bool = True) -> "EPIREnsemble":
        for member in self.members:
            member.set_export(enabled)
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, attention, embedding = (torch.stack(o).mean(dim=0) for o in zip(*(m(x) for m in self.members)))
        return logits, attention, F.normalize(embedding, dim=-1)


def ensemble_size(model: nn.Module) -> int:
    return len(model.members) if isinstance(model, EPIREnsemble) else 1


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
