"""What every recipe shares: the registry, scales, and the result with its report files.

A :class:`Recipe` is a named, documented, versioned system (data protocol, preprocessing,
network or pipeline, training settings, evaluation) with three scales: ``"smoke"`` (seconds,
for tests), ``"cpu"`` (an hour or less on 2 CPU cores, each reduction from the full system
listed in the report) and ``"full"`` (the full settings, meant for a GPU). Running one returns
a :class:`RecipeResult`: the side-by-side table, the per-class report, and the files written
to the work folder (``report.md``, ``report.json``, confusion PNGs, the fitted pipeline).
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hybridfer._io import atomic_write_text

__all__ = [
    "SCALES",
    "Recipe",
    "RecipeError",
    "RecipeResult",
    "get_recipe",
    "list_recipes",
    "machine_summary",
    "register",
    "run_options",
    "run_recipe",
]

#: The scales every recipe offers.
SCALES = ("smoke", "cpu", "full")

_REGISTRY: dict[str, Recipe] = {}


class RecipeError(ValueError):
    """A recipe was asked for something it cannot do (unknown name, scale, missing data)."""


@dataclass(frozen=True)
class Recipe:
    """A named system that runs end to end.

    Attributes
    ----------
    name : str
        The user-facing name (``hybridfer reproduce NAME``).
    title : str
        One line: what the system is.
    source : str
        Where it comes from (a paper's title, or "hybridfer").
    claims : mapping
        Numbers its source reports (name -> value), printed beside ours.
    version : str
        Bumped whenever the recipe's settings change, so results name what produced them.
    run : callable
        ``run(data, scale=..., workdir=..., resume=..., **options) -> RecipeResult``.
    default_scale : str
    options : tuple of str
        The keyword options ``run`` takes besides data, scale, workdir and resume; by default
        read from ``run``'s signature (its keyword-only parameters, in order).
    """

    name: str
    title: str
    source: str
    claims: Mapping[str, Any]
    version: str
    run: Callable[..., RecipeResult]
    default_scale: str = "cpu"
    options: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.options is None:
            object.__setattr__(self, "options", run_options(self.run))


#: The parameters of every recipe's ``run`` that are not options.
_RUN_PARAMETERS = ("data", "scale", "workdir", "resume")


def run_options(run: Callable[..., Any]) -> tuple[str, ...]:
    """The keyword-only parameters of a recipe's ``run`` besides data, scale, workdir and
    resume, in the order of its signature."""
    return tuple(
        p.name
        for p in inspect.signature(run).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in _RUN_PARAMETERS
    )


def register(recipe: Recipe) -> Recipe:
    """Add a recipe to the registry (its name must be new)."""
    if recipe.name in _REGISTRY:
        raise ValueError(f"a recipe named {recipe.name!r} is already registered")
    _REGISTRY[recipe.name] = recipe
    return recipe


def list_recipes() -> list[Recipe]:
    """Every registered recipe, by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; the error lists the valid names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise RecipeError(
            f"unknown recipe {name!r}; available: {', '.join(sorted(_REGISTRY))}"
        ) from None


def run_recipe(
    name: str,
    data: str | os.PathLike,
    *,
    scale: str | None = None,
    workdir: str | os.PathLike | None = None,
    resume: bool = False,
    **options: Any,
) -> RecipeResult:
    """Run the recipe ``name`` on ``data`` at ``scale``; write its report to ``workdir``."""
    recipe = get_recipe(name)
    unknown = sorted(set(options) - set(recipe.options))
    if unknown:
        raise RecipeError(
            f"recipe {name!r} does not take the option(s) {unknown}; it takes "
            f"{list(recipe.options) or 'none'}"
        )
    scale = scale or recipe.default_scale
    if scale not in SCALES:
        raise RecipeError(f"scale must be one of {list(SCALES)}, got {scale!r}")
    workdir = Path(workdir) if workdir is not None else Path("hybridfer-work") / name / scale
    if workdir.exists() and not workdir.is_dir():
        raise RecipeError(f"workdir {os.fspath(workdir)!r} exists and is not a folder")
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = recipe.run(data, scale=scale, workdir=workdir, resume=resume, **options)
    result.wall_time = time.perf_counter() - start
    result.save()
    return result


def machine_summary() -> str:
    """The machine a result was measured on: the CPU (and whether bf16 is native), or the GPU."""
    import torch

    from hybridfer.nn.devices import cpu_capability

    text = cpu_capability()
    if torch.cuda.is_available():
        text = f"{torch.cuda.get_device_name(0)}; host: {text}"
    return f"{text}; Python {platform.python_version()}, torch {torch.__version__}"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


@dataclass
class RecipeResult:
    """What a recipe run produced.

    Attributes
    ----------
    recipe, version, scale : str
    protocol : str
        How the data was split and what was selected on what.
    machine : str
        See :func:`machine_summary`.
    rows : list of dict
        The side-by-side table: one row per model (network softmax, each hybrid...), with its
        scores per evaluated split.
    columns : list of str
        Which keys of ``rows`` the printed table shows, in order.
    details : dict
        Anything else worth keeping (per-class reports as markdown, training history, the
        data summary, the reductions at this scale, timings).
    paths : dict
        Files written (name -> path).
    workdir : Path
    wall_time : float
        Seconds the whole run took.
    """

    recipe: str
    version: str
    scale: str
    protocol: str
    machine: str
    rows: list[dict[str, Any]]
    columns: list[str]
    workdir: Path
    details: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    reductions: Sequence[str] = ()
    wall_time: float = 0.0

    def table_markdown(self) -> str:
        """The side-by-side table as markdown."""
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        for row in self.rows:
            lines.append("| " + " | ".join(_fmt(row.get(c)) for c in self.columns) + " |")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The whole report: header, table, reductions, per-class reports, files."""
        parts = [
            f"# {self.recipe} (v{self.version}, scale {self.scale})",
            "",
            f"- machine: {self.machine}",
            f"- protocol: {self.protocol}",
            f"- wall time: {self.wall_time:.0f} s",
            "",
            self.table_markdown(),
        ]
        if self.reductions:
            parts += ["", "Reductions at this scale:", ""]
            parts += [f"- {r}" for r in self.reductions]
        for title, text in self.details.get("sections", {}).items():
            parts += ["", f"## {title}", "", text]
        if self.paths:
            parts += ["", "## Files", ""]
            parts += [f"- {k}: `{v}`" for k, v in self.paths.items()]
        return "\n".join(parts) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "recipe": self.recipe,
            "version": self.version,
            "scale": self.scale,
            "protocol": self.protocol,
            "machine": self.machine,
            "wall_time": self.wall_time,
            "reductions": list(self.reductions),
            "rows": self.rows,
            "details": {k: v for k, v in self.details.items() if k != "sections"},
            "paths": self.paths,
        }

    def save(self) -> None:
        """Write ``report.md`` and ``report.json`` to the work folder (atomically)."""
        md = self.workdir / "report.md"
        js = self.workdir / "report.json"
        self.paths.setdefault("report_md", os.fspath(md))
        self.paths.setdefault("report_json", os.fspath(js))
        atomic_write_text(md, self.to_markdown())
        atomic_write_text(js, json.dumps(self.to_dict(), indent=2, default=str))
