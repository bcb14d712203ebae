"""The ``Engine`` singleton: ``Engine.instance().get_version_info()`` (the generated
singleton constructor, ``generation_files/generate_py_classes.py``
``generate_singleton_constructor``, d8e17428)."""

from __future__ import annotations

from typing import Any

from .Object import Object

#: ``(major, minor, patch)`` that ``get_version_info()`` reports.
ENGINE_VERSION = (4, 7, 0)
_instance: Engine | None = None


class Engine(Object):
    @staticmethod
    def instance() -> Engine:
        global _instance
        if _instance is None:
            _instance = Engine()
        return _instance

    def get_version_info(self) -> Any:
        from .core import Dictionary

        major, minor, patch = ENGINE_VERSION
        return Dictionary._from_gdscript(
            {
                "major": major,
                "minor": minor,
                "patch": patch,
                "hex": (major << 16) | (minor << 8) | patch,
                "status": "stable",
                "build": "standin",
                "string": f"{major}.{minor}.{patch}.stable.standin",
            }
        )
