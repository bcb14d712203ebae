"""Godot 3 tooling: the engine binary, the godot-python runtime and Godot 3 projects.

:mod:`.engine` knows ``godot3-server`` (binary, version, command line); :mod:`.runtime`
finds or builds godot-python 0.50 and its packages; :mod:`.project` assembles a Godot 3
project that runs this package through the runtime.
"""
