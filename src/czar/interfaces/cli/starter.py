"""The commented plan `czar init` writes."""

STARTER_PLAN = '''\
# czar plan: what to build, in which order, and how to know it is done.
# Check it with `czar validate`, run it with `czar run`.

[project]
name = "my-project"                     # names the data folder and the tmux session
repo = "."                              # the git repository, relative to this file
base_branch = "main"                    # the integration branch starts from here
integration_branch = "czar/integration" # verified work is merged here, never into main
accept = []                             # default acceptance commands, e.g. ["python -m pytest -q"]
accept_timeout = 600                    # seconds per acceptance command (never run by a shell)
max_attempts = 3                        # verification rounds before a task is marked failed

[workers]
count = 2
agent = "sim"                           # sim | claude | codex | gemini | aider

[[tasks]]
id = "hello"                            # letters, digits, '-' and '_'; the branch is czar/hello
title = "Add a hello module"
scope = ["hello.py"]                    # globs this task may change
subtasks = ["write the module", "commit"]
accept = ["python -c 'import hello; assert hello.greet(1) == \\"Hello, 1!\\"'"]
body = """
Create hello.py with a function greet(name) that returns "Hello, <name>!".

The simulated agent (sim) follows the script below; real agents read the prose above.

```czar-sim
progress 1 writing hello.py
write hello.py <<END
def greet(name):
    return f"Hello, {name}!"
END
progress 2 committing
commit add hello.greet
finish hello.greet is in place
```
"""

[[tasks]]
id = "shout"
title = "Add a loud greeting"
depends_on = ["hello"]                  # starts only after hello is merged
scope = ["shout.py"]
# body_file = "tasks/shout.md"          # a Markdown file next to the plan can hold the body instead
body = """
Create shout.py with shout(name) returning hello.greet(name) in upper case.

```czar-sim
write shout.py <<END
import hello


def shout(name):
    return hello.greet(name).upper()
END
commit add shout
finish shout is in place
```
"""
'''
