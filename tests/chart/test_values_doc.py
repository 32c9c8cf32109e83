"""Every key of values.yaml has a prose comment (STYLE rule 43), and the values reference in
charts/herald/README.md is the one generated from those comments."""

from __future__ import annotations

import pytest

from tests.chart.conftest import CHART
from tests.chart.values_doc import UndocumentedKey, parse, updated_readme


def test_every_key_has_a_comment() -> None:
    entries = parse((CHART / "values.yaml").read_text())
    assert len(entries) > 100
    assert all(entry.comment for entry in entries)


def test_an_undocumented_key_is_caught() -> None:
    with pytest.raises(UndocumentedKey, match=r"gateway\.replicaCount"):
        parse("# The gateway.\ngateway:\n  replicaCount: 2\n")


def test_chart_readme_lists_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    values = (CHART / "values.yaml").read_text()
    assert readme == updated_readme(readme, values), (
        "charts/herald/README.md is stale: run `python -m tests.chart.values_doc`"
    )
