from restore_cli.cli import main

main()
