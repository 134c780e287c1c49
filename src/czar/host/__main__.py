"""``python -m czar.host --settings FILE``: a worker host, started by the supervisor in the
worker's tmux window, with the settings it wrote for it (``czar.agents.host_settings``). Kept
free of the CLI's imports and of the plan's, because a hundred of them start at once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from czar.errors import CzarError


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m czar.host")
    parser.add_argument("--settings", type=Path, required=True, help="the worker's settings, written by the supervisor")
    args = parser.parse_args()
    try:
        from czar.agents.host_settings import HostSettings
        from czar.host.worker_host import WorkerHost
        from czar.paths import ProjectPaths
        from czar.runtime import logs

        try:
            text = args.settings.read_text(encoding="utf-8")
        except OSError as exc:
            raise CzarError(f"cannot read the worker host's settings: {exc}") from exc
        settings = HostSettings.loads(text)
        paths = ProjectPaths.for_project(settings.project)
        logs.gather(paths.logs / f"{settings.worker}.log")
        return WorkerHost(settings, paths).run()
    except CzarError as exc:
        print(f"czar worker-host: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
