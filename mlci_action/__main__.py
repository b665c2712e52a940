from mlci_action.cli import main

raise SystemExit(main())
