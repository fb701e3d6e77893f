"""`python -m signup_relay.ops.backfill`."""

import sys

from signup_relay.ops.backfill.cli import main

sys.exit(main())
