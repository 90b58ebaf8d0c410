"""EPIR's building blocks, one class per idea (DESIGN.md section 4).

Every layer is written so that the TorchScript ONNX exporter produces a small, static graph: token
counts are fixed at construction (the input size is fixed), batch is the only dynamic axis, and the
only data-dependent ops are TopK and gathers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_EPS = 1e-6


def mirror(x: torch.Tensor, negate: tuple[int, ...], offset: float) -> torch.Tensor:
    """The left-right mirror of flow images [N, C, H, W]: flipped, and the horizontal-flow channels
    ``negate`` turned into ``offset - x`` (a mirrored face moves the other way).

    Offset 0 is plain negation, for signed flow. Flow min-max scaled to [0, 1] per image (the published
    MEGC2019 PNGs) needs offset 1: the scaling of -u is 1 minus the scaling of u, whereas -u would put
    the channel in [-1, 0], a range the data never has. Flipping the whole input mirrors each tile and
    swaps the left and right tiles of a region layout, which is what a mirrored face would give.
    """
    scale = torch.ones(x.shape[1], dtype=x.dtype)
    shift = torch.zeros(x.shape[1], dtype=x.dtype)
    scale[list(negate)] = -1.0
    shift[list(negate)] = offset
    return x.flip(-1) * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)


def conv_stem(in_channels: int, widths: tuple[int, ...]) -> nn.Module:
    """Early convolutions (Xiao et al. 2021): 3x3 conv + BatchNorm + GELU per width, stride 1.

    Tried because on the 442 MEGC2019 training images a small CNN beat every patch-only transformer: local
    filters could give the tokenizer an inductive bias the data is too small to learn. It scored lower on
    the development folds (README, MEGC2019), so it is off by default. Stride 1 keeps the 28x28
    resolution, so the patch grid (and the attention map) stays the same.
    """
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.GELU()]
        in_channels = width
    return nn.Sequential(*layers)


class ShiftedPatchTokenizer(nn.Module):
    """DNSPT: shifted patch tokenization with Dual PatchNorm.

    Shifted Patch Tokenization (Lee et al. 2021) concatenates the input with four diagonally shifted
    copies so that each patch sees its neighbours' pixels; Dual PatchNorm (Kumar et al. 2023) puts a
    LayerNorm before and after the patch projection. The paper's "refined spatial transformation" is
    reconstructed as the shift amount and the border padding (``shift_pixels``, ``shift_padding``).
    With ``stem`` widths, a convolutional stem (``conv_stem``) turns the input into feature maps first,
    and the patches are cut from those.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        patch_size: int,
        dim: int,
        shifted: bool,
        shift_pixels: int,
        shift_padding: str,
        dual_norm: bool,
        stem: tuple[int, ...] = (),
    ):
        super().__init__()
        self.patch = patch_size
        self.grid = image_size // patch_size
        self.shift = shift_pixels if shifted else 0
        self.padding = shift_padding
        self.stem = conv_stem(in_channels, stem) if stem else nn.Identity()
        in_channels = stem[-1] if stem else in_channels
        channels = in_channels * (5 if shifted else 1)
        self.channels = channels
        features = channels * patch_size * patch_size
        self.norm_in = nn.LayerNorm(features) if dual_norm else nn.Identity()
        self.proj = nn.Linear(features, dim)
        self.norm_out = nn.LayerNorm(dim) if dual_norm else nn.Identity()

    def shifted_copies(self, x: torch.Tensor) -> torch.Tensor:
        """The input and its four diagonal shifts by ``shift`` pixels, on the channel axis."""
        if not self.shift:
            return x
        s = self.shift
        size = x.shape[-1]
        padded = F.pad(x, (s, s, s, s), mode=self.padding)
        # A window offset by (dy, dx) shows the image moved by (-dy, -dx).
        views = [padded[:, :, s + dy : s + dy + size, s + dx : s + dx + size] for dy, dx in ((-s, -s), (-s, s), (s, -s), (s, s))]
        return torch.cat([x, *views], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] -> [N, grid*grid, dim], tokens in row-major patch order."""
        x = self.shifted_copies(self.stem(x))
        g, p = self.grid, self.patch
        x = x.reshape(-1, self.channels, g, p, g, p).permute(0, 2, 4, 3, 5, 1)
        x = x.reshape(-1, g * g, p * p * self.channels)
        return self.norm_out(self.proj(self.norm_in(x)))


class LocalitySelfAttention(nn.Module):
    """Multi-head self-attention with Locality Self-Attention (Lee et al. 2021).

    The diagonal is masked out so that a token cannot attend to itself (EPIR's "reduced self-token
    attention"), and the softmax temperature is learnable. With ``fused`` the attention runs through
    ``scaled_dot_product_attention`` (fast in training); the explicit-softmax path is taken when the
    class token's attention is needed (token integration, selection, the attention map) and always in
    export mode (timm's ``fused_attn`` switch).
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        tokens: int,
        mask_diagonal: bool,
        learnable_temperature: bool,
        attn_dropout: float,
        dropout: float,
        windows: torch.Tensor | None = None,
    ):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.tokens = tokens
        self.fused = True
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = nn.Dropout(attn_dropout)
        self.proj_drop = nn.Dropout(dropout)
        log_scale = torch.tensor(math.log(self.head_dim**-0.5))
        if learnable_temperature:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)
        self.mask_diagonal = mask_diagonal
        # Additive mask: -inf on the diagonal, so the softmax gives each token's self-attention 0.
        bias = torch.zeros(tokens, tokens)
        if mask_diagonal:
            bias.fill_diagonal_(float("-inf"))
        if windows is not None:  # local attention: a patch token sees the class token and its own window only
            apart = windows.view(-1, 1) != windows.view(1, -1)
            bias[1:, 1:] = bias[1:, 1:].masked_fill(apart, float("-inf"))
        self.register_buffer("bias", bias, persistent=False)

    def forward(self, x: torch.Tensor, need_cls_attn: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the attended tokens and, if asked, the class token's attention over the other tokens.

        The class-token attention [N, T-1] is averaged over heads and sums to 1 per sample.
        """
        t, h, d = self.tokens, self.heads, self.head_dim
        qkv = self.qkv(x).reshape(-1, t, 3 * h, d).transpose(1, 2)
        q, k, v = qkv[:, :h] * self.log_scale.exp(), qkv[:, h : 2 * h], qkv[:, 2 * h :]
        cls_attn = None
        if self.fused and not need_cls_attn:
            drop = self.attn_drop.p if self.training else 0.0
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=self.bias, dropout_p=drop, scale=1.0)
        else:
            attn = (q @ k.transpose(-2, -1) + self.bias).softmax(dim=-1)
            cls_attn = attn[:, :, 0, 1:].mean(dim=1)
            if not self.mask_diagonal:  # the class token also attends to itself: renormalise
                cls_attn = cls_attn / cls_attn.sum(dim=-1, keepdim=True)
            out = self.attn_drop(attn) @ v
        out = out.transpose(1, 2).reshape(-1, t, h * d)
        return self.proj_drop(self.proj(out)), cls_attn


def window_ids(grid: int, window: int) -> torch.Tensor:
    """Window index of each patch of a ``grid`` x ``grid`` patch grid (row-major) cut into ``window`` x
    ``window`` windows: with 7-pixel patches of a 28x28 face and window 2, the four quadrants (an eye and
    its brow, a mouth corner and its cheek), HTNet's facial areas."""
    rows = torch.arange(grid).view(-1, 1) // window
    cols = torch.arange(grid).view(1, -1) // window
    return (rows * (grid // window) + cols).flatten()


class DropPath(nn.Module):
    """Stochastic depth: drop a residual branch per sample in training (identity at inference)."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty(x.shape[0], *([1] * (x.dim() - 1))).bernoulli_(keep)
        return x * mask / keep


class Block(nn.Module):
    """Pre-norm Transformer block with Locality Self-Attention."""

    def __init__(self, dim: int, heads: int, tokens: int, mlp_ratio: float, drop_path: float, **attn_options):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = LocalitySelfAttention(dim, heads, tokens, **attn_options)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(attn_options["dropout"]), nn.Linear(hidden, dim)
        )
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, need_cls_attn: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        y, cls_attn = self.attn(self.norm1(x), need_cls_attn)
        x = x + self.drop_path(y)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x, cls_attn


def one_hot_rows(index: torch.Tensor, tokens: int) -> torch.Tensor:
    """index [N, k] -> [N, k, tokens] float one-hot rows: gathering by matmul, no Expand in the graph."""
    positions = torch.arange(tokens, device=index.device)
    return (index.unsqueeze(-1) == positions).to(torch.float32)


class TokenIntegration(nn.Module):
    """EViT-style token integration between cascaded blocks (Liang et al. 2022).

    Keeps the ``keep`` patch tokens the class token attends to most and fuses all the others into
    one token, their average weighted by that attention, so no token's information is dropped.
    Written as one merge matrix [N, keep+1, T], returned too: chaining the merge matrices maps each
    token back to the initial patch grid.
    """

    def __init__(self, tokens: int, keep: int):
        super().__init__()
        self.tokens = tokens
        self.keep = keep

    def merge_matrix(self, cls_attn: torch.Tensor) -> torch.Tensor:
        """cls_attn [N, T] -> [N, keep+1, T]: one-hot rows for kept tokens, then the fusion weights."""
        kept = one_hot_rows(cls_attn.topk(self.keep, dim=1).indices, self.tokens)
        rest = cls_attn * (1.0 - kept.sum(dim=1))
        fused = rest / rest.sum(dim=1, keepdim=True).clamp_min(_EPS)
        return torch.cat([kept, fused.unsqueeze(1)], dim=1)

    def forward(self, cls_attn: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """patches [N, T, D] -> (merged patches [N, keep+1, D], merge matrix [N, keep+1, T])."""
        merge = self.merge_matrix(cls_attn)
        return merge @ patches, merge


class SpatialIntegration(nn.Module):
    """Token integration as the aggregation between HTNet's levels (arXiv 2307.14637, its published code).

    The patch tokens, laid out on their ``grid`` x ``grid`` patch grid, go through a 3x3 convolution to twice
    the width, a LayerNorm over the channels and a 3x3 max-pool of stride 2: each 2x2 cell of the grid becomes
    one token that has seen its neighbours (the convolution reaches one patch around each, the pool's window the
    row and column before the cell). The class token is widened by a linear map, and the new tokens get
    positions of their own. The merge matrix [N, grid²/4, grid²] shares each new token among its cell's patches
    as the class token attended to them in the block before (an attention rollout within the cell), so the
    attention map keeps the patch grid's resolution instead of the cells'.
    """

    def __init__(self, dim: int, grid: int):
        super().__init__()
        self.dim, self.grid = dim, grid
        half = grid // 2
        self.conv = nn.Conv2d(dim, 2 * dim, 3, padding=1)
        self.norm = nn.LayerNorm(2 * dim)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.cls = nn.Linear(dim, 2 * dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, half * half + 1, 2 * dim))
        cells = (torch.arange(grid).view(-1, 1) // 2 * half + torch.arange(grid).view(1, -1) // 2).flatten()
        self.register_buffer("cells", (cells.view(1, -1) == torch.arange(half * half).view(-1, 1)).float(),
                             persistent=False)  # [grid²/4, grid²]: which patches make each new token

    def forward(self, x: torch.Tensor, cls_attn: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, 1 + grid², dim] (class token first), cls_attn [N, grid²] -> ([N, 1 + grid²/4, 2·dim], merge).

        Without ``cls_attn`` (training, where no map is needed and the block before may take the fused
        attention path) the cell's patches share evenly."""
        patches = x[:, 1:].transpose(1, 2).reshape(-1, self.dim, self.grid, self.grid)
        patches = self.norm(self.conv(patches).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        patches = self.pool(patches).flatten(2).transpose(1, 2)
        # the floor keeps a cell nobody attended to even
        shares = self.cells if cls_attn is None else (cls_attn.unsqueeze(1) + _EPS) * self.cells
        merge = shares / shares.sum(dim=-1, keepdim=True)
        return torch.cat([self.cls(x[:, :1]), patches], dim=1) + self.pos_embed, merge


class DynamicTokenSelection(nn.Module):
    """DTSM: pick the ``k`` key patch tokens the classifier head uses, and pool them.

    Reconstructed (DynamicViT / ATS lineage). Each token gets a score: the log of the class token's
    attention (``attention``), a learned linear score (``learned``), or their sum (``hybrid``). The hard
    top-k is taken in training and at inference alike; the softmax weights over the selected scores
    carry the gradient to the scorer (a straight-through style relaxation), so training and inference
    compute the same function and the graph exports as TopK and a small matmul.
    """

    SCORERS = ("attention", "learned", "hybrid")

    def __init__(self, dim: int, tokens: int, k: int, scorer: str, temperature: float):
        super().__init__()
        self.tokens = tokens
        self.k = k
        self.temperature = temperature
        self.use_attention = scorer in ("attention", "hybrid")
        self.scorer = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 1)) if scorer in ("learned", "hybrid") else None

    def forward(self, patches: torch.Tensor, cls_attn: torch.Tensor) -> torch.Tensor:
        """patches [N, T, D], cls_attn [N, T] -> pooled key tokens [N, D]."""
        if self.scorer is None:
            score = torch.log(cls_attn + _EPS)
        else:
            score = self.scorer(patches).squeeze(-1)
            if self.use_attention:
                score = score + torch.log(cls_attn + _EPS)
        top = score.topk(self.k, dim=1)
        weights = (top.values / self.temperature).softmax(dim=1).unsqueeze(1)
        return (weights @ one_hot_rows(top.indices, self.tokens) @ patches).squeeze(1)


def resize_matrix(start: int, side: int, size: int, image: int) -> torch.Tensor:
    """[size, image] bilinear weights that sample pixels ``start .. start+side-1`` of a line of ``image``
    pixels at ``size`` evenly spaced points (pixel centres, as ``F.interpolate(align_corners=False)``),
    clamped at the image's border."""
    weights = torch.zeros(size, image)
    centres = start + (torch.arange(size, dtype=torch.float64) + 0.5) * side / size - 0.5
    low = centres.floor().clamp(0, image - 1)
    frac = (centres - low).clamp(0, 1)
    high = (low + 1).clamp(max=image - 1)
    for row, (lo, hi, f) in enumerate(zip(low.long().tolist(), high.long().tolist(), frac.tolist())):
        weights[row, lo] += 1.0 - f
        weights[row, hi] += f
    return weights


class RegionZoom(nn.Module):
    """HTNet's facial areas, zoomed: fixed square boxes cut from the image and resized to ``size`` pixels.

    ``boxes`` are (top, left, side) in pixels. The crop-and-resize of each box is bilinear interpolation
    written as two constant matrices (rows, then columns), so it is differentiable and exports as two
    MatMuls: the runtime still feeds the whole flow image. [N, C, H, W] -> [N * boxes, C, size, size],
    box-major within each sample.
    """

    def __init__(self, boxes: tuple[tuple[int, int, int], ...], size: int, image_size: int):
        super().__init__()
        self.boxes = len(boxes)
        self.size = size
        rows = torch.stack([resize_matrix(top, side, size, image_size) for top, _, side in boxes])
        cols = torch.stack([resize_matrix(left, side, size, image_size).T for _, left, side in boxes])
        self.register_buffer("rows", rows.unsqueeze(1), persistent=False)  # [R, 1, size, H]
        self.register_buffer("cols", cols.unsqueeze(1), persistent=False)  # [R, 1, W, size]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        crops = self.rows @ x.unsqueeze(1) @ self.cols  # [N, R, C, size, size]
        return crops.reshape(-1, x.shape[1], self.size, self.size)

    def patch_shares(self, patch: int, image_size: int) -> torch.Tensor:
        """[boxes * (size/patch)^2, (image_size/patch)^2]: for each region token (box-major, row-major
        within the box), the share of each whole-image patch in the area the token covers; rows sum to 1."""
        grid, sub = image_size // patch, self.size // patch
        shares = []
        for r in range(self.boxes):
            # The token's area on the image from the interpolation weights: how much each pixel contributes.
            rows = self.rows[r, 0].reshape(sub, patch, image_size).sum(dim=1)  # [sub, H]
            cols = self.cols[r, 0].T.reshape(sub, patch, image_size).sum(dim=1)  # [sub, W]
            area = rows.view(sub, 1, image_size, 1) * cols.view(1, sub, 1, image_size)  # [sub, sub, H, W]
            per_patch = area.reshape(sub * sub, grid, patch, grid, patch).sum(dim=(2, 4)).reshape(sub * sub, grid * grid)
            shares.append(per_patch / per_patch.sum(dim=1, keepdim=True))
        return torch.cat(shares)
