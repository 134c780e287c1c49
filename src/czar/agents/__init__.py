"""Agent adapters, one per agent kind (``czar.agents.adapters`` has them all), and czar's own
simulated agent (``czar.agents.sim``). Nothing is imported here: the simulated agent is a process
of its own, started for every task, and loads only what it runs."""
