"""Fakes behind czar's ports, shipped with it for tests (czar's and yours): each keeps the
semantics of the real thing, so that what is proven on it holds on the real one."""
