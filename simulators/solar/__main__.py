"""Entry point for ``python -m simulators.solar``."""

from .cli import main

raise SystemExit(main())
