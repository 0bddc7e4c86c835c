from fer_lib.cli import main

raise SystemExit(main())
