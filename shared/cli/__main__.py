"""`python -m shared.cli`: the same as the `sc-autopilot` script."""

import sys

from shared.cli import main

sys.exit(main())
