"""`python -m adcost`: the adcost command."""
import sys

from .cli import main

sys.exit(main())
