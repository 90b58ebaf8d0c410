"""EPIR checkpoints (``RUN/final.pt``): the weights with the configuration and class names they belong to.

Written by ``train``, read by ``export`` and ``model-info``. A file that is not an EPIR checkpoint, or whose
weights do not fit its configuration, is an InputError naming the file and what is wrong.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from app.errors import InputError
from models.epir import EPIR, EPIREnsemble, ensemble_size
from models.epir_config import EPIRConfig

CHECKPOINT_FORMAT = "epir-checkpoint/1"


def save_checkpoint(path: str | Path, model: EPIR | EPIREnsemble, classes: list[str] | tuple[str, ...], **extra: Any) -> None:
    """Save weights with the configuration and class names.

    ``extra`` holds plain data (lists, dicts, numbers, strings). The exporter reads the keys
    ``input`` (``asdict(InputSpec)``), ``training``, ``metrics``, ``name``, ``version`` and ``caveats``
    when present.
    """
    if len(classes) != model.config.num_classes:
        raise ValueError(f"{len(classes)} class names for a {model.config.num_classes}-class model")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "config": asdict(model.config),
            "members": ensemble_size(model),
            "state_dict": model.state_dict(),
            "classes": list(classes),
            **extra,
        },
        path,
    )


def load_checkpoint(path: str | Path, expected: EPIRConfig | None = None) -> tuple[EPIR | EPIREnsemble, dict[str, Any]]:
    """Load ``(model in eval mode, checkpoint dict)``.

    If ``expected`` is given, a checkpoint saved with a different configuration is an InputError that
    names the differing options; so is a state dict that does not fit the saved configuration.
    """
    where = str(path)
    if not Path(path).is_file():
        raise InputError(where, "checkpoint file not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise InputError(where, f"not a readable PyTorch checkpoint ({type(exc).__name__})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise InputError(where, f"not an EPIR checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    config = EPIRConfig.from_dict(checkpoint["config"], where)
    if expected is not None and config != expected:
        raise InputError(where, "checkpoint configuration differs from the requested one: " + "; ".join(config.differences(expected)))
    members = int(checkpoint.get("members", 1))
    model = EPIR(config) if members == 1 else EPIREnsemble([EPIR(config) for _ in range(members)])
    state = checkpoint["state_dict"]
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshapen = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or misshapen:
        details = [f"{label} {names[:5]}" for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshapen)) if names]
        raise InputError(where, "weights do not fit the saved configuration: " + "; ".join(details))
    model.load_state_dict(state)
    return model.eval(), checkpoint
