"""``python -m rigidpose`` runs the command line."""

from .cli import main

raise SystemExit(main())
