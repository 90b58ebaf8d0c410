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

Every reconstructed choice is a field of ``EPIRConfig``; ``EPIRConfig.plain_vit()`` switches token
integration and selection off, giving the baseline of equal depth and width.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from app.errors import InputError
from models.layers import (
    Block, DynamicTokenSelection, RegionZoom, ShiftedPatchTokenizer, SpatialIntegration, TokenIntegration, mirror,
    window_ids,
)


# HTNet's four facial areas on the 28x28 whole-face flow (region_boxes; (top, left, side) pixel triples):
# the eyes with their brows, then the two mouth corners with their cheeks. Placed on the mean of the 442
# published MEGC2019 flow images (no face photographs): the optical strain peaks at rows 6-7, columns 5-6 and
# 20-21 (eyes), the flow's deviation from each image's median at rows 3-4 (brows), and the strain again at
# rows 15-19, columns 7-8 and 19-20 (mouth corners). 12-pixel boxes centred there, mirror-symmetric about
# the face's midline (so a mirrored face swaps the left and right boxes).
FACE_REGIONS_28 = (0, 1, 12, 0, 15, 12, 12, 2, 12, 12, 14, 12)

# What the model card says about provenance (DESIGN.md 4): abstract vs reconstruction.
FOLLOWS_PAPER = (
    "DNSPT: shifted patch tokenization with a LayerNorm before and after the patch projection",
    "attention that reduces each token's attention to itself",
    "token integration merging tokens across cascaded Transformer blocks without discarding their information",
    "DTSM: dynamic selection of key tokens before classification",
    "cross-entropy plus contrastive objective; about 1.6% of HTNet's parameters (~2.2 M)",
)
RECONSTRUCTED = (
    "refined spatial transformation = four diagonal shifts of shift_pixels with shift_padding borders (Lee et al. 2021 SPT)",
    "self-token attention reduction = Locality Self-Attention: diagonal masked, learnable temperature (Lee et al. 2021)",
    "token integration = EViT: keep ceil(keep_rate*T) tokens by class-token attention, fuse the rest weighted by it, after integration_blocks; "
    "or (integration 'spatial') HTNet's aggregation: 3x3 conv, LayerNorm, 3x3 max-pool of stride 2 over the patch grid, width and heads doubled",
    "DTSM = top-dtsm_tokens key tokens by dtsm_scorer score, softmax-pooled and concatenated with the class token for the head",
    "attention map = last block's class-token attention mapped back through the integration bookkeeping "
    "(spatial integration: each cell's share divided among its patches by the class-token attention before it)",
    "contrastive embedding = 2-layer projection of the head features to proj_dim, L2-normalised (SupCon)",
    "sizes (patch_size, dim, depth, heads, mlp_ratio) chosen for <= 2.2 M parameters and <= 2 ms CPU latency",
)


@dataclass(frozen=True)
class EPIRConfig:
    """EPIR's hyper-parameters. Defaults are the shipped configuration; see RECONSTRUCTED for why."""

    in_channels: int = 3  # u, v, optical strain
    image_size: int = 28  # square input side (STSTNet / HTNet lineage)
    num_classes: int = 3  # MEGC2019 negative / positive / surprise
    patch_size: int = 4  # 7x7 grid; patch 2 (14x14) measured 4 ms at batch 1, over the 2 ms budget
    dim: int = 96  # 128 measured 1.4-2.2 ms on the loaded 2-core machine; 96 keeps a margin under 2 ms
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.0
    attn_dropout: float = 0.0
    drop_path: float = 0.1  # stochastic depth, linearly increasing to this rate at the last block
    # DNSPT
    shifted_patches: bool = True
    shift_pixels: int = 2  # Lee et al. shift by patch_size // 2
    shift_padding: str = "constant"  # "constant" (zero flow beyond the border) or "replicate"
    dual_norm: bool = True  # LayerNorm before and after the patch projection
    conv_stem: tuple[int, ...] = ()  # widths of 3x3 conv+BN+GELU layers before the patches; () = none
    # Locality Self-Attention
    mask_diagonal: bool = True
    learnable_temperature: bool = True
    # Local attention (HTNet's idea, in EPIR's blocks): the first local_blocks blocks let each patch token
    # attend only within its local_window x local_window window of patches (and to the class token);
    # later blocks are global. Token integration may only follow the last local block.
    local_blocks: int = 0
    local_window: int = 2
    # Token integration (EViT)
    # Integrate after these blocks (0-based): 49 -> 26 -> 14 patch tokens. Earlier than EViT's first
    # third, because onset->apex flow is sparse: one block's attention already tells moving patches from
    # still ones. After (1, 3) instead costs about 10% more time.
    integration_blocks: tuple[int, ...] = (0, 2)
    keep_rate: float = 0.5  # fraction of patch tokens kept at each integration
    # "attention" (EViT, above) or "spatial": each integration merges every 2x2 cell of the patch grid into one
    # token of twice the width (and twice the heads) through a 3x3 convolution, LayerNorm and a 3x3 max-pool of
    # stride 2 -- the aggregation between HTNet's levels, which its published code shows to be what mixes its
    # patches (its attention sees one token: README, "What HTNet computes").
    integration: str = "attention"
    # DTSM
    dtsm_tokens: int = 6  # key tokens pooled for the head; 0 switches DTSM off
    dtsm_scorer: str = "hybrid"  # "attention", "learned" or "hybrid" (their sum)
    dtsm_temperature: float = 1.0  # softmax temperature of the pooling weights
    # Supervised contrastive projection
    proj_dim: int = 64
    # The input's left-right mirror (``layers.mirror``; the training augmentation uses it too): flipped,
    # and each horizontal-flow channel x in mirror_negate becomes mirror_offset - x -- the negated flow
    # (offset 0), or for flow min-max scaled to [0, 1] per image the scaling of the negated flow (offset 1).
    mirror_negate: tuple[int, ...] = (0,)  # u of u, v, strain; train sets both from the input spec
    mirror_offset: float = 0.0
    # Test-time mirror averaging: at inference the mirrored input's class distribution is averaged with
    # the input's, inside the network so that the exported file computes it too.
    mirror_average: bool = False
    # Region zoom (HTNet's main idea, arXiv 2307.14637): micro-expressions happen around the eyes/brows and
    # the mouth corners, a few pixels of the 28x28 face each; cut those boxes out at fixed places, resize
    # them to region_size pixels and give each its own patch tokens (a separate tokenizer, shared by the
    # boxes), so the areas that move are seen at a finer token resolution. region_whole keeps the whole
    # face's low-resolution patch tokens beside them. With local_blocks, each box is one attention window
    # (the regions first, then their combination, as HTNet's hierarchy). The attention map stays on the
    # whole face's patch grid: a region token's attention is spread over the patches its area covers.
    # Off by default: on the MEGC2019 development folds every variant tried scored 0.03-0.10 UF1 below the
    # recipe, the more zoomed tokens the lower (README, "Experiment log, region zoom").
    region_boxes: tuple[int, ...] = ()  # flat (top, left, side) pixel triples, e.g. FACE_REGIONS_28; () = off
    region_size: int = 21  # side, in pixels, each box is resized to (a multiple of patch_size)
    region_whole: bool = True  # also the whole face's patch tokens

    def __post_init__(self) -> None:
        object.__setattr__(self, "integration_blocks", tuple(int(b) for b in self.integration_blocks))
        object.__setattr__(self, "conv_stem", tuple(int(w) for w in self.conv_stem))
        object.__setattr__(self, "mirror_negate", tuple(int(c) for c in self.mirror_negate))
        object.__setattr__(self, "region_boxes", tuple(int(v) for v in self.region_boxes))
        problems = self.problems()
        if problems:
            raise ValueError("invalid EPIR configuration: " + "; ".join(problems))

    def problems(self) -> list[str]:
        out = []
        if self.image_size % self.patch_size:
            out.append(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if any(w < 1 for w in self.conv_stem):
            out.append(f"conv_stem widths {list(self.conv_stem)} must be positive")
        if any(not 0 <= ch < self.in_channels for ch in self.mirror_negate):
            out.append(f"mirror_negate {list(self.mirror_negate)} must be channel indices below {self.in_channels}")
        boxes = self.region_boxes
        if len(boxes) % 3 or any(side < 1 or top < 0 or left < 0 or max(top, left) + side > self.image_size
                                 for top, left, side in self.boxes()):
            out.append(f"region_boxes {list(boxes)} must be (top, left, side) triples inside the {self.image_size}-pixel image")
        if boxes and (self.region_size < self.patch_size or self.region_size % self.patch_size):
            out.append(f"region_size {self.region_size} is not a multiple of patch_size {self.patch_size}")
        if not boxes and not self.region_whole:
            out.append("region_whole false needs region_boxes (there would be no tokens)")
        if self.dim % self.heads:
            out.append(f"dim {self.dim} is not a multiple of heads {self.heads}")
        if self.shift_padding not in ("constant", "replicate"):
            out.append(f"shift_padding {self.shift_padding!r} not in ['constant', 'replicate']")
        if self.dtsm_scorer not in DynamicTokenSelection.SCORERS:
            out.append(f"dtsm_scorer {self.dtsm_scorer!r} not in {list(DynamicTokenSelection.SCORERS)}")
        blocks = self.integration_blocks
        if list(blocks) != sorted(set(blocks)) or any(not 0 <= b < self.depth - 1 for b in blocks):
            out.append(f"integration_blocks {list(blocks)} must be increasing indices below depth-1 ({self.depth - 1})")
        if self.local_blocks and (not 0 < self.local_window < self.grid[0] or self.grid[0] % self.local_window
                                  or not 0 <= self.local_blocks <= self.depth):
            out.append(f"local attention over {self.local_blocks} blocks needs a window (local_window "
                       f"{self.local_window}) that divides the {self.grid[0]}-patch grid into several, within depth {self.depth}")
        if any(b < self.local_blocks - 1 for b in blocks):
            out.append(f"integration_blocks {list(blocks)} must not come before the last local block ({self.local_blocks - 1})")
        if not 0.0 < self.keep_rate < 1.0:
            out.append(f"keep_rate {self.keep_rate} not in (0, 1)")
        if self.integration not in ("attention", "spatial"):
            out.append(f"integration {self.integration!r} not in ['attention', 'spatial']")
        elif self.integration == "spatial" and (self.region_boxes or self.grid[0] % 2 ** len(blocks)):
            out.append(f"spatial integration halves the {self.grid[0]}-patch grid {len(blocks)} time(s): it needs a grid "
                       f"that many halvings divide, and no region_boxes")
        if not out:
            counts = self.token_counts()
            if counts[-1] < 2:
                out.append(f"token integration leaves {counts[-1]} patch token(s); lower the integration or keep_rate")
            if self.dtsm_tokens > counts[-1]:
                out.append(f"dtsm_tokens {self.dtsm_tokens} exceeds the {counts[-1]} tokens left")
        return out

    def boxes(self) -> tuple[tuple[int, int, int], ...]:
        """``region_boxes`` as (top, left, side) triples."""
        b = self.region_boxes
        return tuple((b[i], b[i + 1], b[i + 2]) for i in range(0, len(b) - len(b) % 3, 3))

    def region_tokens(self) -> int:
        """Patch tokens of one zoomed region."""
        return (self.region_size // self.patch_size) ** 2

    def token_windows(self) -> torch.Tensor:
        """Local-attention window of each initial patch token: the whole face's windows, then one per region."""
        face = window_ids(self.grid[0], self.local_window) if self.region_whole else torch.zeros(0, dtype=torch.long)
        first = int(face.max()) + 1 if len(face) else 0
        regions = torch.arange(len(self.boxes())).repeat_interleave(self.region_tokens()) + first
        return torch.cat([face, regions])

    @property
    def grid(self) -> tuple[int, int]:
        """(h, w) of the initial patch grid, which is also the attention map's shape."""
        side = self.image_size // self.patch_size
        return side, side

    def kept(self, tokens: int) -> int:
        """Patch tokens kept by an integration step over ``tokens`` (one more, the fused one, is added)."""
        return min(tokens - 1, max(1, math.ceil(self.keep_rate * tokens)))

    def token_counts(self) -> list[int]:
        """Patch tokens (class token excluded) entering each block, then after the last one."""
        counts = [(self.grid[0] * self.grid[1] if self.region_whole else 0) + len(self.boxes()) * self.region_tokens()]
        for block in range(self.depth):
            t = counts[-1]
            if block not in self.integration_blocks:
                counts.append(t)
            else:
                counts.append(t // 4 if self.integration == "spatial" else self.kept(t) + 1)
        return counts

    def widths(self) -> list[int]:
        """Token width in each block: ``dim``, doubled after each spatial integration."""
        doubling = self.integration == "spatial"
        return [self.dim * 2 ** sum(doubling and b < i for b in self.integration_blocks) for i in range(self.depth)]

    def plain_vit(self) -> "EPIRConfig":
        """The baseline: the same network without token integration and token selection."""
        return replace(self, integration_blocks=(), dtsm_tokens=0)

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str) -> "EPIRConfig":
        """Build from a saved dict; unknown options are an InputError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(where, f"unknown EPIR options {unknown} (saved by another version?)")
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise InputError(where, str(exc)) from None

    def with_overrides(self, assignments: list[str], where: str = "--set") -> "EPIRConfig":
        """Apply ``name=value`` strings (command-line tuning), parsed by each field's default type."""
        types = {f.name: type(getattr(self, f.name)) for f in fields(self)}
        values: dict[str, Any] = {}
        for item in assignments:
            name, sep, raw = item.partition("=")
            if not sep or name not in types:
                raise InputError(where, f"{item!r} is not NAME=VALUE with NAME one of {sorted(types)}")
            kind = types[name]
            try:
                if kind is bool:
                    values[name] = raw.lower() in ("1", "true", "yes", "on")
                elif kind is tuple:
                    values[name] = tuple(int(v) for v in raw.split(",") if v.strip())
                else:
                    values[name] = kind(raw)
            except ValueError:
                raise InputError(where, f"{item!r}: {raw!r} is not a {kind.__name__}") from None
        try:
            return replace(self, **values)
        except ValueError as exc:
            raise InputError(where, str(exc)) from None

    def differences(self, other: "EPIRConfig") -> list[str]:
        """``name: mine != theirs`` for every option that differs."""
        return [
            f"{f.name}: {getattr(self, f.name)!r} != {getattr(other, f.name)!r}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]


def architecture_card(config: EPIRConfig, members: int = 1) -> dict[str, Any]:
    """The ``architecture`` entry of the model card: configuration and provenance of each part."""
    card = {
        "family": "EPIR (reconstructed)",
        "paper": "arXiv 2604.08106 (abstract only)",
        "config": asdict(config),
        "follows_paper": list(FOLLOWS_PAPER),
        "reconstructed": list(RECONSTRUCTED),
        "token_counts": config.token_counts(),
    }
    if members > 1:
        card["ensemble"] = {"members": members, "combined": "mean of the members' logits and attention maps",
                            "seeds": "training seed, seed + 1, ... (one per member)"}
    return card


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
