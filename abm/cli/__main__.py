"""`python -m abm.cli ...` is `mechsim ...`."""

import sys

from abm.cli.main import main

sys.exit(main())
