"""One table of refusal codes (bookings/refusals.py): the SQL functions return only known
outcomes, and both documents list every refusal with its status."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from evently.bookings.admission import AdmissionRequired, AdmissionTokenInvalid
from evently.bookings.outcomes import SUCCESSES, Outcome
from evently.bookings.refusals import REFUSALS
from evently.bookings.verified_email import EmailVerificationRequired

# Outcome literals the functions assign: ``outcome := '...'``, ``outcomes[r.n] := '...'``
# and the branches of the CASEs that compute one (sale_state, confirm_bookings).
_ASSIGNED = re.compile(r"outcomes?(?:\[r\.n\])?\s*:=\s*'([a-z_]+)'")
_CASE_BRANCH = re.compile(r"(?:THEN|ELSE)\s+'([a-z_]+)'")


def documented(path: Path, section: str | None = None) -> dict[str, int]:
    """``code -> status`` from the ``| status | `code` | ...`` rows of a document."""
    text = path.read_text()
    if section is not None:
        text = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return {
        code: int(status)
        for status, code in re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \|", text, re.M)
    }


def test_every_outcome_a_function_returns_is_known():
    returned: set[str] = set()
    for entry in resources.files("evently.bookings").joinpath("sql").iterdir():
        sql = entry.read_text()
        returned.update(_ASSIGNED.findall(sql))
        for function in re.split(r"CREATE OR REPLACE FUNCTION", sql):
            if "sale_state" in function.split("(", 1)[0] or "confirm_bookings" in function[:80]:
                returned.update(_CASE_BRANCH.findall(function))
    assert {"held", "sold_out", "hold_expired", "sale_not_open"} <= returned
    # sale_state answers 'on_sale' or the refusal that says why not.
    assert returned - {"on_sale"} <= {o.value for o in Outcome}
    assert set(REFUSALS) == set(Outcome) - SUCCESSES


def test_every_refusal_is_documented_with_its_status(repo_root: Path):
    table = {code.value: refusal.status for code, refusal in REFUSALS.items()}
    for path, section in ((repo_root / "docs/bookings.md", "Refusal codes"),
                          (repo_root / "docs/errors.md", "Bookings")):  # fmt: skip
        rows = documented(path, section)
        assert {code: rows.get(code) for code in table} == table, path.name


def test_the_refusals_checked_before_the_booking_functions_are_documented(repo_root: Path):
    gates = {
        cls.code: cls.status
        for cls in (AdmissionRequired, AdmissionTokenInvalid, EmailVerificationRequired)
    }
    for path, section in ((repo_root / "docs/bookings.md", "Refusal codes"),
                          (repo_root / "docs/errors.md", "Bookings")):  # fmt: skip
        rows = documented(path, section)
        assert {code: rows.get(code) for code in gates} == gates, path.name
