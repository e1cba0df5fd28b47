from stagecfg.cli import main

main()
