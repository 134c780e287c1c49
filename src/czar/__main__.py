import sys

from czar.agent_tools.hook import fast_call

# An agent's hook runs `python -m czar hook ...` at each tool use: answered without the CLI.
hook = fast_call(sys.argv[1:])
if hook is not None:
    from czar.agent_tools.hook import main as answer

    sys.exit(answer(*hook))

from czar.interfaces.cli.app import main  # noqa: E402 (after the hook's way out)

main()
