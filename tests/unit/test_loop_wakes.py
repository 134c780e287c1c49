"""The supervisor's loop wakes when a job it holds a slot for ends (a verification, a review's
start, a merge batch), not only when the store rings: the job's last write rang the loop while the
job still held its slot, and the next merge batch, waiting on that slot, went on only at the next
event or the safety net (seen in `czar bench stack`: 0.44 s between two batches, nothing else
happening). On the fake terminal, repository and clock (``czar.testing``)."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from czar.supervisor.loop import MERGE_SLOT, Supervisor
from helpers import on_fakes


def test_the_end_of_a_held_job_wakes_the_loop(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a"], workers=1)
    sup = Supervisor(f.project, out=io.StringIO())
    sup.listener = f.project.store.listen("supervisor")
    release = threading.Event()
    try:
        with ThreadPoolExecutor(1) as pool:
            sup._hold(MERGE_SLOT, pool.submit(release.wait, 30))
            assert not sup.listener.wait(0.2)  # nothing rang while the job runs
            release.set()
            assert sup.listener.wait(30)  # its end did, at once
        sup.step()  # the loop's next step frees the slot
        assert MERGE_SLOT not in sup.busy
    finally:
        release.set()
        sup.listener.close()
        for pool in (sup.checks, sup.merges, sup.assigners):
            pool.shutdown(wait=True)
