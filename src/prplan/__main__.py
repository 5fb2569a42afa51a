from prplan.cli import main

main()
