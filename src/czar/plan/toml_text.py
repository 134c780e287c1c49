"""Values written into a plan (``czar init``'s starter, a benchmark's generated plans) as TOML."""

from __future__ import annotations

import json
from collections.abc import Iterable


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string. JSON's escapes are TOML's, save two: JSON writes a
    character beyond the Basic Multilingual Plane as two surrogate escapes, which TOML refuses
    (found by a probe: a commit subject with an emoji made a replay's plan that did not parse), so
    such characters are written as they are; and TOML escapes DEL, which JSON does not. A lone
    surrogate (a name git gave in no encoding) cannot be written in UTF-8: it becomes "?"."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_strings(texts: Iterable[str]) -> str:
    """A TOML array of strings."""
    return "[" + ", ".join(toml_string(t) for t in texts) + "]"
