"""``python -m godot_dtls``: the same as the ``godot-dtls`` command."""

import sys

from godot_dtls.tools.cli import main

sys.exit(main())
