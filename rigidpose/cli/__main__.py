"""``python -m rigidpose.cli`` runs the command line, as ``python -m rigidpose`` does."""

from .app import main

raise SystemExit(main())
