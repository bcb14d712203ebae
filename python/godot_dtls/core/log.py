"""The package logger: where the engine would "print" an error line.

Godot reports misuse and failures by logging (``ERR_FAIL_*``) and returning an
``Error``; it never raises into the script. We do the same through the standard
``logging`` module, so a host (CLI, tests, an engine adapter) decides where the
lines go.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("godot_dtls")
