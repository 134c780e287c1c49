"""``python -m czar.host --plan PLAN --worker W``: a worker host, started by the supervisor in the
worker's tmux window. Kept free of the CLI's imports, because a hundred of them start at once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from czar.errors import CzarError


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m czar.host")
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--worker", required=True)
    args = parser.parse_args()
    try:
        from czar.host.worker_host import WorkerHost
        from czar.paths import ProjectPaths
        from czar.plan.load import load_plan
        from czar.store.store import Store

        plan = load_plan(args.plan)
        kind = plan.worker_kinds.get(args.worker)
        if kind is None:
            raise CzarError(f"no worker {args.worker!r} in {args.plan}")
        store = Store(ProjectPaths.for_project(plan.project.name))
        host = WorkerHost(store, args.worker, kind, plan.agents.get(kind), repo=plan.repo, sandbox_config=plan.sandbox)
        return host.run()
    except CzarError as exc:
        print(f"czar worker-host: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
