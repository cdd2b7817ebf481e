"""``hybridfer datasets``: every data set loader, the layout it reads, where the data comes
from, and its label map onto the canonical classes (:mod:`hybridfer.data.sources`)."""

from __future__ import annotations

from hybridfer.cli.base import Command, echo

__all__ = ["Datasets", "run_datasets"]


def run_datasets() -> None:
    """Print :data:`hybridfer.data.DATASETS` with :data:`hybridfer.data.LABEL_MAPS`."""
    from hybridfer.data import CANONICAL_CLASSES, DATASETS, LABEL_MAPS

    echo(f"canonical classes: {', '.join(CANONICAL_CLASSES)}", "")
    for name, source in DATASETS.items():
        kind = "whole pictures: faces are cropped first" if source.full_frames else "face crops"
        echo(f"{name} ({kind})", f"    layout: {source.layout}", f"    from: {source.origin}")
        table = LABEL_MAPS.get(name)
        if table is None:
            echo("    label map: by class name (anger, happiness, sadness... are understood)")
        else:
            echo("    label map: " + ", ".join(f"{a} -> {b}" for a, b in table.items()))
    echo(
        "",
        "load one with hybridfer.data.load_dataset(NAME, PATH), or pass NAME:PATH to --cross-data",
    )


class Datasets(Command):
    name = "datasets"
    help = "list the data set loaders, their layouts and label maps"

    def run(self) -> None:
        run_datasets()
