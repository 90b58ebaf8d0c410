"""Dataset loaders by name; each returns ``DatasetSamples`` of the shared ``Sample`` record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.errors import InputError
from models.datasets import casme2, casme3, megc2019, megc2019_flows, samm, smic, synthetic
from models.datasets.record import DatasetSamples, Sample

LOADERS: dict[str, Callable[[Path], DatasetSamples]] = {
    m.NAME: m.load for m in (casme2, samm, smic, casme3, megc2019, megc2019_flows, synthetic)
}


def load_dataset(name: str, root: Path | str) -> DatasetSamples:
    if name not in LOADERS:
        raise InputError(name, f"unknown dataset; choose from {', '.join(LOADERS)}")
    return LOADERS[name](Path(root))


__all__ = ["LOADERS", "DatasetSamples", "Sample", "load_dataset"]
