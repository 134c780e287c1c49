"""The catalogue of event kinds is the only place a kind is spelled."""

from __future__ import annotations

import ast
from pathlib import Path

import czar
from czar.core.events import EventKind
from czar.core.findings import FindingKind
from czar.core.health import Repair, repaired

SRC = Path(czar.__file__).parent


def test_kinds_are_unique_and_named_after_their_value() -> None:
    values = [k.value for k in EventKind]
    assert len(values) == len(set(values))
    for kind in EventKind:
        assert kind.name == kind.value.upper().replace(".", "_"), kind


def test_no_module_spells_an_event_kind_as_a_string() -> None:
    """Every emitter and reader uses the catalogue's names: a kind spelled wrong in a string would
    be a reader waiting for nothing (or an event nobody reads). ("alert" alone is also a payload
    key, so only the dotted kinds are looked for.)"""
    dotted = {k.value for k in EventKind if "." in k.value}
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "core" / "events.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in dotted:
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value!r}")
    assert found == []


def test_every_repair_has_its_event() -> None:
    assert {repaired(r) for r in Repair} == {k for k in EventKind if k.value.startswith("health.")} - {
        EventKind.HEALTH_DETECTED
    }


def test_every_radar_finding_has_its_event() -> None:
    radar = {k for k in EventKind if k.value.startswith("radar.")} - {EventKind.RADAR_CLEARED}
    assert {k.event for k in FindingKind} == radar
