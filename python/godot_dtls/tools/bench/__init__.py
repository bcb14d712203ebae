"""``godot-dtls bench``: godot-dtls against Godot 3.2.3's own DTLS (mbedTLS) on loopback.

Modules: :mod:`.main` (the run), :mod:`.measure` and :mod:`.clients` (the Python
clients' loops), :mod:`.pyserver` (the godot-dtls echo server process), :mod:`.procs`
(process runner, RSS), :mod:`.layer` (Godot-API layer CPU in memory), :mod:`.report`
(ratios, goals, table, JSON, plot); the GDScript side is in ``godot3/``.
"""

from .options import add_bench_arguments, run_bench_command

__all__ = ["add_bench_arguments", "run_bench_command"]
