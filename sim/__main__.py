"""``python -m sim`` is the ``digex`` command."""

import sys

from sim.cli.main import main

sys.exit(main())
