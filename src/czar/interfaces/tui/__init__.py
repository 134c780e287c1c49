"""`czar dash`: the run live in a terminal (Textual), acting through ``czar.supervisor.people``."""
