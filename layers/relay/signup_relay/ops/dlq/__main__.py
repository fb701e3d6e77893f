"""`python -m signup_relay.ops.dlq`."""

import sys

from signup_relay.ops.dlq.cli import main

sys.exit(main())
