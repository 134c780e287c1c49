"""What a claim of a path came to: granted, or refused with the holder named (``czar.store.claims``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClaimResult:
    pattern: str
    granted: bool
    reason: str

    def line(self) -> str:
        return f"{self.pattern}: {self.reason}" if self.granted else f"refused {self.pattern}: {self.reason}"
