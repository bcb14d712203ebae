"""godot-dtls for godot-python-extension (maiself): registers PyPacketPeerDTLS and
PyDTLSServer, or explains in one error why it cannot; never raises.

How the runtime finds this package: at SCENE initialisation it imports the package named by
every ``*.pyextension`` file in the process's working directory
(``lib/godot/_internal/__init__.py``, d01a302). In the editor that is the project folder, so
``godot_dtls.pyextension`` in the project root, containing::

    [configuration]

    python_package = "addons.godot_dtls.python.godot_python_extension"

is found, and the name resolves through the runtime's ``res://`` importer with the default
``python/config/module_search_path`` (folders become packages). An exported game finds it
only when the file sits in the working directory the game is started from (see the addon
README).

Why this module never raises: the runtime runs that import inside
``CATCH_FATAL_EXCEPTIONS_PRINT_ERRORS_AND_ABORT`` (``src/extension/extension.cpp``), so any
exception here, such as a missing ``godot_dtls``, pyOpenSSL or cryptography or an engine
older than the adapters support, would abort Godot. Instead it registers nothing and
pushes one error saying why; the facades then use the engine's DTLS classes and log that.

Install ``godot_dtls``, pyOpenSSL and cryptography with a CPython 3.12 into the library's
site-packages (the runtime has no pip): ``python3.12 -m pip install --target
<extension lib dir>/python3.12/site-packages /path/to/godot-dtls`` (cp312 or abi3 wheels).
"""

from __future__ import annotations

import sys
import traceback


def _register() -> None:
    try:
        import godot
    except ImportError:  # imported outside the runtime (a tool, a test): nothing to register
        return
    try:
        from . import extension_classes  # noqa: F401  (registering is its import)
    except Exception as exc:
        if type(exc).__name__ == "UnsupportedRuntime":
            message = f"{exc}."
        else:
            message = (
                "godot-dtls: the Python backend is off, its adapter could not be loaded "
                f"({exc!r}). Install godot_dtls, pyOpenSSL and cryptography into the "
                f"interpreter's site-packages (sys.path: {sys.path}); the facades use the "
                "engine's DTLS classes meanwhile.\n" + traceback.format_exc()
            )
        try:
            godot.push_error(message)
        except Exception:
            print(message, file=sys.stderr)


_register()
