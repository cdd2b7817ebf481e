"""A paper recipe's result table: one row per protocol, the summary, the profile, side by side.

- :data:`COLUMNS` and :class:`ProtocolOutcome`: a protocol's row, report section and files;
- :func:`profile_markdown`: parameters, GFLOPs and latency as a list, with the paper's numbers;
- :func:`paper_result`: the :class:`~hybridfer.recipes.base.RecipeResult` with the summary
  (claimed, paper protocol, honest, their difference);
- :func:`side_by_side`: several recipes' results in one table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybridfer.recipes.base import RecipeResult, machine_summary

__all__ = ["COLUMNS", "ProtocolOutcome", "paper_result", "profile_markdown", "side_by_side"]

#: The columns of a paper recipe's table, in order (a column no row fills is dropped).
COLUMNS = (
    "protocol",
    "claimed acc",
    "acc",
    "macro-F1",
    "acc - claimed",
    "folds",
    "fold acc sd",
    "n train",
    "n test",
    "test with exact copy in train",
    "test with near copy only",
    "subjects on both sides",
    "epochs",
    "train s",
)


@dataclass
class ProtocolOutcome:
    """What :func:`~hybridfer.recipes.paper.run_protocol` produced for one protocol.

    Attributes
    ----------
    name : str
        ``"paper"`` or ``"honest"`` (or a cross-dataset test's name).
    row : dict
        The protocol's row of the table (see :data:`COLUMNS`).
    section : str
        The pooled per-class report (markdown).
    details : dict
        The protocol's summary, audit counts and per-fold records (class counts, history).
    paths : dict
        Files written (fitted models, confusion PNG).
    models : list
        The fitted estimator of every split.
    """

    name: str
    row: dict[str, Any]
    section: str
    details: dict[str, Any]
    paths: dict[str, str] = field(default_factory=dict)
    models: list[Any] = field(default_factory=list)


def profile_markdown(profile: Mapping[str, Any], claims: Mapping[str, Any] | None = None) -> str:
    """The profile as a markdown list, with the paper's numbers where it gives them."""
    claims = claims or {}

    def claim(key: str) -> str:
        return f" (paper: {claims[key]:,})" if key in claims else ""

    lines = [f"- parameters: {profile['parameters']:,}{claim('parameters')}"]
    if "gflops" in profile:
        lines.append(
            f"- GFLOPs per image at input {tuple(profile['input_shape'][1:])}: "
            f"{profile['gflops']:.4f}{claim('gflops')} (a multiply-add counts 2)"
        )
    if "gflops_paper_input" in profile:
        lines.append(
            f"- GFLOPs per image at the paper's input {tuple(profile['paper_input'])}: "
            f"{profile['gflops_paper_input']:.4f}"
        )
    lines.append(
        f"- mean latency per image: {profile['latency_ms']:.3f} ms "
        f"({profile.get('latency_device', 'cpu')}, {profile.get('latency_runs', 50)} runs)"
    )
    return "\n".join(lines)


def paper_result(
    *,
    recipe: str,
    version: str,
    scale: str,
    workdir: str | os.PathLike,
    outcomes: Sequence[ProtocolOutcome],
    claim: float | None,
    reductions: Sequence[str],
    details: Mapping[str, Any],
    sections: Mapping[str, str],
    paths: Mapping[str, str] | None = None,
    extra_columns: Sequence[str] = (),
) -> RecipeResult:
    """The :class:`RecipeResult` of a paper recipe: one row per protocol, the summary
    (claimed, paper protocol, honest, paper - honest), the per-protocol reports first."""
    rows = [o.row for o in outcomes]
    columns = [c for c in (*COLUMNS, *extra_columns) if any(r.get(c) is not None for r in rows)]
    by_name = {o.name: o.row for o in outcomes}
    summary: dict[str, Any] = {"claimed": claim}
    if "paper" in by_name:
        summary["paper protocol"] = by_name["paper"]["acc"]
    if "honest" in by_name:
        summary["honest"] = by_name["honest"]["acc"]
    if {"paper", "honest"} <= set(by_name):
        summary["paper - honest"] = by_name["paper"]["acc"] - by_name["honest"]["acc"]
    all_sections = {
        o.row["protocol"]
        if o.row["split"] == o.row["protocol"]
        else f"{o.row['protocol']} protocol: {o.row['split']}": o.section
        for o in outcomes
    }
    all_sections.update(sections)
    all_paths: dict[str, str] = {}
    for o in outcomes:
        all_paths.update(o.paths)
    all_paths.update(paths or {})
    return RecipeResult(
        recipe=recipe,
        version=version,
        scale=scale,
        protocol="; ".join(dict.fromkeys(o.details["protocol"] for o in outcomes)),
        machine=machine_summary(),
        rows=rows,
        columns=columns,
        workdir=Path(workdir),
        details={
            **details,
            "summary": summary,
            "protocols": {o.name: o.details for o in outcomes},
            "sections": all_sections,
        },
        paths=all_paths,
        reductions=list(reductions),
    )


def side_by_side(results: Sequence[RecipeResult]) -> str:
    """Several recipes' results in one markdown table: one row per recipe and protocol, with
    the claim, our accuracy and macro-F1, and the leakage audit's copies."""
    cols = [
        "recipe",
        "scale",
        "protocol",
        "claimed acc",
        "acc",
        "macro-F1",
        "test with exact copy in train",
        "test with near copy only",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for result in results:
        for row in result.rows:
            values = {"recipe": result.recipe, "scale": result.scale, **row}
            if "protocol" not in row:
                values["protocol"] = result.protocol.split(" (")[0]
            cells = []
            for c in cols:
                v = values.get(c)
                cells.append(f"{v:.4f}" if isinstance(v, float) else ("" if v is None else str(v)))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
