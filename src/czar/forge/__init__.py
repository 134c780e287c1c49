"""Forges: where czar's pull requests live (``czar.core.forge.Forge``). ``local``: in the store."""
