from prplan.cli.main import main

main()
