"""The fixed training recipe for the published MEGC2019 flows (``train --dataset megc2019-flows``).

Identical for every fold and for the shipped model: no epoch, checkpoint or threshold is picked by looking
at a test fold. Sized so that a whole LOSO run fits the shared 2-core development machine; chosen from the
few exploratory runs of the README's experiment log, not tuned (README "EPIR on real micro-expressions").
``--config-json`` and the flags override any part of it.
"""

from __future__ import annotations

from dataclasses import asdict

from models.datasets.megc2019_flows import SPEC

RECIPE: dict[str, dict] = {
    "input": asdict(SPEC),
    # 7x7-pixel patches (a 4x4 grid: eyes/brows, cheeks, mouth corners each fall in one patch), four blocks
    # of width 64, one token integration after the first (16 -> 9 patch tokens), DTSM picking 4 of them.
    # Small on purpose: a whole LOSO run (68 trainings) must fit this shared 2-core machine.
    "model": {"patch_size": 7, "dim": 64, "depth": 4, "heads": 4, "integration_blocks": [0], "dtsm_tokens": 4},
    "train": {"epochs": 20},
}
