"""``python -m godot_dtls``: the same as the ``godot-dtls`` command."""

import sys

from .cli import main

sys.exit(main())
