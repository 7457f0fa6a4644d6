"""``python -m gbi`` is the same as the ``gbi`` command."""

import sys

from gbi.cli import main

sys.exit(main())
