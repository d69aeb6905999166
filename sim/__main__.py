"""``python -m sim`` is the ``digex`` command."""

import sys

from sim.cli import main

sys.exit(main())
