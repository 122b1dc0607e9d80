"""``python -m tests.helpers COMMAND ROOT ARG...``: the worker the multi-process and crash tests start."""

import sys

from tests.helpers.worker import main

sys.exit(main(sys.argv[1:]))
