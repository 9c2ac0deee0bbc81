"""``python -m tarve``: the same as the ``tarve`` command."""

import sys

from tarve.cli import main

sys.exit(main())
