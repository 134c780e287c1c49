from czar.interfaces.cli.app import main

main()
