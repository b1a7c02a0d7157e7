"""The spreadsheet formula-injection rule, once: which text a spreadsheet would run as a formula.

Exports neutralise such cells (a leading quote); uploads refuse them (etl.uploads). A cell is suspicious when
it starts with = + - @ or a tab / carriage return (OWASP "CSV injection"); numbers stay numbers.
"""

from __future__ import annotations

import re

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FORMULA_START = re.compile("^[" + re.escape("".join(FORMULA_PREFIXES)) + "]")


def neutralise(value: object) -> object:
    """Stop spreadsheet formula injection: a text cell that starts like a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
