"""``hybridfer components``, ``recipes`` and ``reproduce``: what the registries hold, and a
named recipe run end to end (:mod:`hybridfer.recipes`)."""

from __future__ import annotations

from typing import Any

from hybridfer.cli.base import Command, echo
from hybridfer.cli.parser import minutes, recipe_option

__all__ = [
    "Components",
    "Recipes",
    "Reproduce",
    "run_components",
    "run_recipes",
    "run_reproduce",
]


def run_components() -> None:
    """``hybridfer components``: the registry, availability and default spaces."""
    from hybridfer.tuning.registry import COMPONENTS
    from hybridfer.tuning.spaces import format_space, merge_spaces, parse_space

    for kind in ("features", "classifier"):
        echo(f"{kind}:")
        for name, comp in COMPONENTS.items():
            if comp.kind != kind:
                continue
            ok = "available" if comp.available() else "not available"
            echo(f"  {name:<18} {comp.description} [{ok}]")
            space = merge_spaces(comp.defaults, parse_space(comp.space, name))
            for k, v in format_space(space).items():
                echo(f"      {k}: {v}")
    echo("feature sets join components with '+', e.g. resnet50+hog+lbp")


def run_recipes() -> None:
    """``hybridfer recipes``: every recipe with its source and the numbers it claims."""
    from hybridfer.recipes import list_recipes

    for recipe in list_recipes():
        claims = "; ".join(f"{k}: {v}" for k, v in recipe.claims.items())
        echo(f"{recipe.name} (v{recipe.version}, default scale {recipe.default_scale})")
        echo(f"    {recipe.title}", f"    source: {recipe.source}", f"    claims: {claims}")
        if recipe.options:
            echo(f"    options: {', '.join(recipe.options)}")


def run_reproduce(name, *, data, scale=None, workdir=None, resume=False, options=None, **flags):
    """``hybridfer reproduce``: run a recipe, print its table and where the report is.

    ``flags`` that are None (not given) are left to the recipe's defaults; ``options``
    (from ``--option NAME=VALUE``) are passed as they are, None included.
    """
    from hybridfer.recipes import run_recipe

    options = {**{k: v for k, v in flags.items() if v is not None}, **(options or {})}
    result = run_recipe(name, data, scale=scale, workdir=workdir, resume=resume, **options)
    echo(
        f"{result.recipe} v{result.version}, scale {result.scale}, {result.wall_time:.0f} s",
        f"machine: {result.machine}",
        f"protocol: {result.protocol}",
        "",
        result.table_markdown(),
        "",
        f"report: {result.paths['report_md']}",
    )
    return result


class Components(Command):
    name = "components"
    help = "list components and their default search spaces"

    def run(self) -> None:
        run_components()


class Recipes(Command):
    name = "recipes"
    help = "list the named recipes with their source and claims"

    def run(self) -> None:
        run_recipes()


class Reproduce(Command):
    name = "reproduce"
    help = "run a named recipe end to end and write its report"
    description = (
        "hybridfer reproduce NAME --data PATH: run a recipe (see hybridfer recipes); "
        "prints the side-by-side table and writes report.md, report.json, confusion PNGs and "
        "the fitted pipeline to --workdir."
    )
    interrupted = (
        "interrupted; the training checkpoint is kept: rerun the same command with --resume "
        "to continue"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="recipe name (hybridfer recipes lists them)")
        parser.add_argument("--data", required=True, help="the data set folder or file")
        parser.add_argument(
            "--scale", choices=("smoke", "cpu", "full"), help="default: the recipe's"
        )
        parser.add_argument("--workdir", help="working folder (default: hybridfer-work/NAME/SCALE)")
        parser.add_argument(
            "--resume", action="store_true", help="continue a killed run from its checkpoints"
        )
        parser.add_argument(
            "--budget-minutes",
            type=minutes,
            help="time budget in minutes (fer2013-cpu: the whole run, default 60; the paper "
            "recipes: their training)",
        )
        parser.add_argument(
            "--protocol",
            choices=("honest", "paper", "both"),
            help="a paper recipe's protocol: the paper's own, the honest one, or both side by side",
        )
        parser.add_argument(
            "--model", type=int, choices=(1, 2, 3), help="cnn-lstm-fer2013: which model"
        )
        parser.add_argument(
            "--cross-data",
            metavar="[NAME:]PATH",
            action="append",
            help="another data set for a cross-dataset test, repeatable (fer2013-cpu: e.g. "
            "CK+48 and JAFFE; clcm-mobilenetv2: CK+48); NAME as in hybridfer datasets, "
            "else told from the folder's layout",
        )
        parser.add_argument(
            "--option",
            dest="options",
            action="append",
            type=recipe_option,
            default=[],
            metavar="NAME=VALUE",
            help="any other option of the recipe (repeatable), e.g. --option rfb=true, "
            "--option mode=sequence; hybridfer recipes lists each recipe's options",
        )

    def run(self, name: str, *, options: list[tuple[str, object]], **settings: Any):
        from hybridfer.recipes import RecipeError

        given = dict(options)
        flags = {k: settings.pop(k) for k in ("budget_minutes", "protocol", "model", "cross_data")}
        twice = sorted(k for k, v in flags.items() if v is not None and k in given)
        if twice:
            raise RecipeError(f"option(s) {twice} given both as a flag and with --option")
        return run_reproduce(name, options=given, **settings, **flags)
