"""EPIR's configuration: every reconstructed choice as a field, validated, and the model card's account
of which parts follow the paper's abstract and which are reconstructed (DESIGN.md 4).

Kept apart from the network (``models.epir``) so that what a model is, and why, reads in one place.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch

from app.errors import InputError
from models.layers import DynamicTokenSelection, window_ids


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

