"""``python -m energysim`` runs the command line."""

import sys

from energysim.cli import main

sys.exit(main())
