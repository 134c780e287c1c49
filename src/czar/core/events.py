"""The catalogue of event kinds: every line of the run's log is one of these.

Events are the run's history (the store's ``events`` table): the status, the report, the
benchmarks and the alerts read them back. A kind is written here once and used by name
everywhere else, so a kind nobody emits, or a reader that waits for a kind spelled wrong, cannot
hide in a string. Payloads stay free-form JSON; each kind's comment says what it records.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    # -- tasks ---------------------------------------------------------------------------------
    TASK_ADDED = "task.added"  # the plan has a new task
    TASK_STATE = "task.state"  # a task moved from one state to another (old, new, reason)
    TASK_ASSIGNED = "task.assigned"  # a task went to a worker: its base commit, branch, prompt size
    TASK_WAITS = "task.waits"  # a task waits for others to merge (blocked on them)
    REMOTE_PUSHED = "remote.pushed"  # a branch pushed to the project's remote, at a commit
    REMOTE_PUSH_REFUSED = "remote.push_refused"  # the remote refused a push: its message
    REMOTE_FETCH_FAILED = "remote.fetch_failed"  # the remote could not be fetched from: git's message
    FORGE_CI_FAILED = "forge.ci_failed"  # the forge's CI failed on a task's pull request: the checks, sent back
    FORGE_REMARK = "forge.remark"  # a person wrote on a task's pull request on the forge: passed on
    FORGE_ERROR = "forge.error"  # the forge refused or did not answer: its words (tried again later)
    FORGE_CLOSED = "forge.closed"  # a person closed a task's pull request on the forge: it does not merge
    FORGE_REOPENED = "forge.reopened"  # that pull request is open there again: its task merges
    TASK_RESTACKED = "task.restacked"  # the approved work a stacked task builds on changed: its new start
    TASK_MERGED = "task.merged"  # a task is in the integration branch, at this commit

    # -- agents (written by worker hosts and czar's agent tools) -------------------------------
    AGENT_STARTED = "agent.started"  # the agent process of an attempt started (which launch)
    AGENT_ACK = "agent.ack"  # the agent named its task and goal (confirmed or not)
    AGENT_ACTIVITY = "agent.activity"  # a line of what the agent does (tool calls, commands)
    AGENT_PROGRESS = "agent.progress"  # the agent reached a checkpoint
    AGENT_REPORT = "agent.report"  # the agent reported without a checkpoint
    AGENT_COMMIT = "agent.commit"  # the agent committed
    AGENT_FINISHED = "agent.finished"  # the agent handed its work in (head commit, summary)
    AGENT_IDLE = "agent.idle"  # the agent's turn ended with nothing handed in
    AGENT_SENT_BACK = "agent.sent_back"  # its turn ended before it handed its task in: sent back to work, once
    AGENT_HOOK = "agent.hook"  # an agent CLI's hook fired (its own protocol, recorded as is)
    AGENT_BLOCKED = "agent.blocked"  # the agent said it waits for another task
    AGENT_QUESTION = "agent.question"  # the agent asked a person a question
    AGENT_PROMPT_SUBMITTED = "agent.prompt_submitted"  # a pasted prompt was submitted (confirmed or not)
    AGENT_MESSAGE_DELIVERED = "agent.message_delivered"  # czar's message reached the agent
    AGENT_ANSWER_DELIVERED = "agent.answer_delivered"  # a person's answer reached the agent
    AGENT_COMMAND_DROPPED = "agent.command_dropped"  # a command for an attempt the host no longer runs
    AGENT_RESTARTED = "agent.restarted"  # the agent was stopped and started again
    AGENT_STOPPED = "agent.stopped"  # the agent was stopped: its task ended
    AGENT_EXITED = "agent.exited"  # the agent process ended by itself (exit code, finished or not)
    AGENT_ERROR = "agent.error"  # the agent could not be started or reached
    AGENT_USAGE = "agent.usage"  # tokens and cost since the last usage event
    AGENT_RATE_LIMITED = "agent.rate_limited"  # the agent's provider refused it for now
    AGENT_MODEL_UNREACHABLE = "agent.model_unreachable"  # the agent's model cannot be reached
    AGENT_MODEL_REACHABLE = "agent.model_reachable"  # ... and can be again

    # -- workers -------------------------------------------------------------------------------
    WORKER_SPAWNED = "worker.spawned"  # a worker's window and host were started
    WORKER_HOST_STARTED = "worker.host_started"  # a worker host process began
    WORKER_HOST_STOPPED = "worker.host_stopped"  # a worker host process ended
    WORKER_TOLD = "worker.told"  # czar posted a message for a worker's agent
    WORKER_UNKNOWN_COMMAND = "worker.unknown_command"  # a worker host got a command it does not know

    # -- verification and merging ----------------------------------------------------------------
    VERIFY_PASSED = "verify.passed"  # handed-in work passed its checks
    VERIFY_FAILED = "verify.failed"  # ... or failed them (a round used)
    VERIFY_DEFERRED = "verify.deferred"  # not verified yet, through no fault of the work (no round)
    MERGE_FAILED = "merge.failed"  # approved work did not merge (charged or not)
    REVIEW_STARTED = "review.started"  # a reviewer was given a task's commit to review
    REVIEW_FINDING = "review.finding"  # a reviewer's finding on a line (path, line, severity, failure)
    REVIEW_VERDICT = "review.verdict"  # a reviewer's verdict on the commit it read (with its findings)
    REVIEW_REFUSED = "review.refused"  # czar refused what a reviewer said (a wrong commit, no such line)
    REVIEW_LOST = "review.lost"  # a review ended with no verdict (exited, crashed, out of time): retried
    REVIEW_CHANGES_REQUESTED = "review.changes_requested"  # the findings went back to the author's session
    RESOLUTION_ASKED = "resolution.asked"  # a task back for conflicts again is given the other tasks' text
    CHANGE_LOST = "change.lost"  # a merge would take out lines other tasks added: not made (lines, owners)
    CHECKS_FLAKY = "checks.flaky"  # the project's checks failed on a merge, then passed when run again

    # -- the radar -------------------------------------------------------------------------------
    RADAR_DUPLICATE = "radar.duplicate"  # two tasks change the same lines
    RADAR_CONFLICT = "radar.conflict"  # two branches would not merge (or change lines next to each other)
    RADAR_SCOPE = "radar.scope"  # a branch changes files outside its scope
    RADAR_CLEARED = "radar.cleared"  # a finding no longer holds

    # -- health: what the healer found, and what it did ----------------------------------------
    HEALTH_DETECTED = "health.detected"  # a problem with a worker or its agent, with evidence
    HEALTH_NUDGE = "health.nudge"
    HEALTH_RESTART = "health.restart"
    HEALTH_CORRECT = "health.correct"
    HEALTH_REASSIGN = "health.reassign"
    HEALTH_CONTINUE = "health.continue"
    HEALTH_DENY = "health.deny"
    HEALTH_STOP = "health.stop"
    HEALTH_RELEASE = "health.release"
    HEALTH_SIDELINE = "health.sideline"  # a worker whose agent cannot start gets no more tasks

    # -- permissions and claims ----------------------------------------------------------------
    PERMISSION_ASKED = "permission.asked"  # an agent asked to run something the policy asks about
    PERMISSION_DECIDED = "permission.decided"  # the policy or a person decided
    CLAIM_GRANTED = "claim.granted"  # a task claimed paths
    CLAIM_REFUSED = "claim.refused"  # ... another task held them
    CLAIM_RELEASED = "claim.released"  # a task's claims ended

    # -- people --------------------------------------------------------------------------------
    PERSON_TOLD = "person.told"  # a person told an agent something (`czar tell`)
    PERSON_UP = "person.up"  # a person started the run (`czar up`)
    PERSON_DOWN = "person.down"  # a person stopped it (`czar down`)
    PERSON_RETRIED = "person.retried"  # a person gave a failed task another go (`czar retry`)
    PERSON_CANCELLED = "person.cancelled"  # a person withdrew a task (`czar cancel`)
    PERSON_PAUSED = "person.paused"  # a person paused the run: no task or review starts (`czar pause`)
    PERSON_RESUMED = "person.resumed"  # ... and let it go on (`czar resume`)

    # -- the supervisor and the run ----------------------------------------------------------------
    SUPERVISOR_STARTED = "supervisor.started"
    SUPERVISOR_STOPPED = "supervisor.stopped"
    SUPERVISOR_ERROR = "supervisor.error"  # a round of the loop failed (the loop goes on)
    CLOCK_JUMPED = "clock.jumped"  # the wall clock jumped (the machine slept, or it was set): seconds
    TOOLS_STARTED = "tools.started"  # czar's tools server for the agents was started (its url, pid)
    RUN_STALLED = "run.stalled"  # nothing moved for `stall_after` seconds: who waits for whom
    RUN_DOWN = "run.down"  # the run was stopped
    OMNIBUS_WRITTEN = "omnibus.written"  # the run's omnibus pull request, with its proof of containment
    OMNIBUS_LANDED = "omnibus.landed"  # czar merged the omnibus into the base branch (land = "merge"), or why not

    # -- alerts ----------------------------------------------------------------------------------
    ALERT = "alert"  # something for people: a warning or a critical alert
    ALERT_DELIVERED = "alert.delivered"  # an alert reached the webhook
    ALERT_UNDELIVERED = "alert.undelivered"  # ... or did not
