"""README's verification section documents every finding code the deployer can report, with its severity."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO
from wandb_deployer.verification.findings import CATALOG

pytestmark = pytest.mark.unit

ROW = re.compile(r"^\| `([A-Z0-9_]+)` \| (\w+)[^|]* \| ([^|]+) \| ([^|]+) \|$")


def verification_section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Verification\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def documented() -> dict[str, str]:
    """code -> severity of every row of the section's table (a row with an empty meaning or fix does not count)."""
    rows = [ROW.match(line) for line in verification_section().splitlines()]
    return {row.group(1): row.group(2) for row in rows if row and row.group(3).strip() and row.group(4).strip()}


def test_every_finding_code_is_documented_with_its_severity() -> None:
    table = documented()
    missing = sorted(set(CATALOG) - set(table))
    assert not missing, f"README's verification section lacks {missing}"
    wrong = {code: (table[code], kind.severity) for code, kind in CATALOG.items() if table[code] != kind.severity}
    assert not wrong, f"README gives another severity (README, code): {wrong}"


def test_the_section_documents_no_code_the_deployer_does_not_have() -> None:
    assert sorted(set(documented()) - set(CATALOG)) == []
