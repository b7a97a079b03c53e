"""``python -m membercore_adapters.cli``: the ``membercore`` command."""

from __future__ import annotations

import sys

from membercore_adapters.cli.app import main

sys.exit(main())
