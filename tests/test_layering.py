"""The layering of ``hybridfer/`` (``tools/check_layers.py``): no import circles, no import
from a layer above, every module in a layer, and no file above 700 lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.check_layers import LAYERS, MAX_LINES, check, layer_of

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def report():
    return check(REPO)


def test_the_tool_reads_every_module_and_its_deferred_imports(report):
    assert "hybridfer.data.splits" in report.modules and "hybridfer" in report.modules
    assert len(report.imports) > len(report.modules)
    assert any(i.deferred for i in report.imports)  # imports inside functions count
    assert layer_of("hybridfer") == 0 and layer_of("hybridfer.data.splits") == layer_of(
        "hybridfer.data"
    )
    assert layer_of("hybridfer.not_a_module") is None
    assert layer_of("hybridfer.cli") == len(LAYERS) - 1


def _fail_with(report, found) -> None:
    if found:
        pytest.fail("\n".join(report.lines()), pytrace=False)


def test_no_import_circles(report):
    _fail_with(report, report.circles)


def test_no_module_imports_a_layer_above_it(report):
    _fail_with(report, report.unlayered or report.upward)


def test_no_file_above_the_line_limit(report):
    _fail_with(report, report.long_files)


def test_circles_and_upward_imports_are_found(tmp_path):
    pkg = tmp_path / "hybridfer"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "images.py").write_text(
        "from hybridfer.data import loader\n\ndef f():\n    from . import _io\n"
    )
    (pkg / "_io.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (pkg / "data" / "__init__.py").write_text("from .loader import load\n")
    (pkg / "data" / "loader.py").write_text("from hybridfer.data import other\n")
    (pkg / "data" / "other.py").write_text("import hybridfer.data.loader\n")
    (pkg / "extra.py").write_text("")
    found = check(tmp_path)
    assert [sorted(i.source for i in c) for c in found.circles] == [
        ["hybridfer.data.loader", "hybridfer.data.other"]
    ]
    assert [(i.source, i.target) for i, *_ in found.upward] == [
        ("hybridfer.images", "hybridfer.data.loader")
    ]
    assert found.unlayered == ["hybridfer.extra"]
    assert found.long_files == [("hybridfer/_io.py", MAX_LINES + 1)]
    assert not found.ok and "circle 1: hybridfer.data.loader" in "\n".join(found.lines())
