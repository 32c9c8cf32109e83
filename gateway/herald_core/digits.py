"""Strict parsing of the plain integers clients send in headers, queries and cursors.

`str.isdigit` is not a safe guard before `int()`: it accepts "²" (which `int` refuses: a 500)
and other scripts' digits, and `int` refuses more than 4300 digits. Found by the property
tests in tests/unit/test_properties.py.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]{1,18}")


def is_digits(text: str) -> bool:
    """True for 1 to 18 ASCII digits: an integer `int()` reads exactly and that fits int64."""
    return _DIGITS.fullmatch(text) is not None
