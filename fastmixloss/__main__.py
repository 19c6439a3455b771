"""`python -m fastmixloss`: the same command line as the `fastmixloss` console script."""

import sys

from .cli import main

sys.exit(main())
