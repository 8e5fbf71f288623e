"""Every Python example in docs/formats.md runs as written."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

DOC = REPO / "docs" / "formats.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_page_has_an_example_for_each_api():
    text = "\n".join(EXAMPLES)
    for api in (
        "read_message",
        "write_message",
        "parse_product_name",
        "ProductName",
        "write_ats",
        "read_ats",
        "validate_ats",
        "write_emission_csv",
        "read_emission_csv",
        "StackConditions",
    ):
        assert f"{api}(" in text, api


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_example_runs(code):
    exec(compile(code, str(DOC), "exec"), {})
