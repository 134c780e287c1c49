"""Fakes behind czar's ports, shipped with it for tests (czar's and yours): each keeps the
semantics of the real thing, so that what is proven on it holds on the real one, and a contract
test holds each to the real thing.

- ``FakeClock`` (``czar.core.clock.Clock``): time that moves when told to.
- ``FakeRepository`` (``czar.core.repository.Repository``): git in memory.
- ``FakeTerminal`` (``czar.core.terminal.Terminal``): tmux's windows in memory.
"""

from czar.testing.clock import FakeClock
from czar.testing.repository import FakeRepository
from czar.testing.terminal import FakeTerminal

__all__ = ["FakeClock", "FakeRepository", "FakeTerminal"]
