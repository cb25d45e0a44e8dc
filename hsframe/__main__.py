from hsframe.cli import main

main()
