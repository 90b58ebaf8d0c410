"""``python main.py model-info``: EPIR's parameter count, FLOPs per sample and token schedule.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on one forward pass at batch 1:
matrix products only (linear layers, attention and merge matmuls), 2 FLOPs per multiply-add;
normalisation, softmax and activations are not counted.
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from models.checkpoint import load_checkpoint
from models.epir import EPIR, count_parameters
from models.epir_config import EPIRConfig


def flops_per_sample(model: EPIR) -> int:
    """FLOPs of the exported graph (explicit attention); ``model`` is left in eval and export mode."""
    c = model.config
    flow = torch.zeros(1, c.in_channels, c.image_size, c.image_size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval().set_export(True)(flow)
    return counter.get_total_flops()


def parameter_breakdown(model: EPIR) -> dict[str, int]:
    """Parameters per top-level part (tokenizer, blocks, head...)."""
    parts: dict[str, int] = {}
    for name, p in model.named_parameters():
        part = name.split(".")[0]
        parts[part] = parts.get(part, 0) + p.numel()
    return parts


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", help="report a checkpoint's configuration instead of the default")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="override EPIRConfig options")


def main(args: argparse.Namespace) -> int:
    config = load_checkpoint(args.checkpoint)[0].config if args.checkpoint else EPIRConfig()
    config = config.with_overrides(args.set)
    print("EPIR configuration:")
    for key, value in vars(config).items():
        print(f"  {key} = {value!r}")
    print(f"patch grid {config.grid[0]}x{config.grid[1]}; patch tokens entering each block {config.token_counts()[:-1]}")
    print(f"{'model':<6} {'parameters':>11} {'MFLOPs/sample':>14}")
    for name, cfg in (("EPIR", config), ("ViT", config.plain_vit())):
        model = EPIR(cfg)
        print(f"{name:<6} {count_parameters(model):>11,} {flops_per_sample(model) / 1e6:>14.2f}")
    print("parameters by part (EPIR): " + ", ".join(f"{k} {v:,}" for k, v in parameter_breakdown(EPIR(config)).items()))
    print("FLOPs: torch.utils.flop_counter, matrix products only, 2 FLOPs per multiply-add, batch 1.")
    print("ViT = the same network without token integration and DTSM (equal depth and width).")
    return 0
