"""``python -m hybridfer``: the same as the ``hybridfer`` command."""

import sys

from hybridfer.cli import main

sys.exit(main())
