from openrds.cli import main

main()
