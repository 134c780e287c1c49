"""``czar web``: the run as a live web page (FastAPI, pages rendered on the server, server-sent events)."""
