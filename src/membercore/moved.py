"""Modules that moved keep their old import path for one release, with a warning.

``relocate({"membercore.engine": "membercore.service.engine"})`` makes ``import
membercore.engine`` (and ``from membercore.engine import Engine``) give the module at its
new path, after a :class:`DeprecationWarning` naming the new path. The old name and the
new one are the same module object, so classes, isinstance checks and monkeypatching
behave as they did. A package registers its moves when it is imported (membercore's own
in ``membercore/__init__.py``, the adapters' in ``membercore_adapters/__init__.py``), and
its ``__getattr__`` serves a moved child named as an attribute (:func:`child`).

Type checkers see only the new paths: code checked with mypy imports from them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from collections.abc import Mapping, Sequence
from types import ModuleType

__all__ = ["REMOVED_IN", "child", "moves", "relocate"]

#: The release in which the old paths stop working.
REMOVED_IN = "0.3.0"

_MOVES: dict[str, str] = {}


def relocate(moves: Mapping[str, str]) -> None:
    """Serve each old module path (key) by the module at its new path (value)."""
    _MOVES.update(moves)
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.append(_Finder())


def child(package: str, name: str) -> ModuleType:
    """A package's moved child named as its attribute (``membercore.tasks``), by its old path.

    A package whose children moved calls it from its own ``__getattr__``, so that the
    attribute warns and gives the module as ``import package.name`` does.

    Raises:
        AttributeError: no child of that name moved (the package has no such attribute).
    """
    if f"{package}.{name}" not in _MOVES:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return importlib.import_module(f"{package}.{name}")


def moves() -> Mapping[str, str]:
    """Every old module path registered, with its new path."""
    return dict(_MOVES)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds an old path after the regular finders did not: the module is no longer there."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        new = _MOVES.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))


class _Alias(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new
        self.spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self.new}; import it from there "
            f"(the old path goes in membercore {REMOVED_IN})",
            DeprecationWarning,
            stacklevel=_caller_level(),
        )
        module = importlib.import_module(self.new)
        self.spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Already executed: only its own spec, which importing replaced, is put back."""
        module.__spec__ = self.spec


def _caller_level() -> int:
    """The stack level of the code that imported the old path.

    :func:`warnings.warn` does not count the import system's own frames; what is left
    between the warning and the importer is :func:`importlib.import_module` (when the
    old path was imported through it) and a package's ``__getattr__`` with :func:`child`
    (when a moved module was named as the package's attribute).
    """
    level = 2
    frame = sys._getframe(2)  # the frame that called create_module
    while frame is not None:
        name = frame.f_code.co_filename
        if "importlib" in name and "_bootstrap" in name:
            frame = frame.f_back  # type: ignore[assignment]
            continue
        if name in (importlib.__file__, __file__) or frame.f_code.co_name == "__getattr__":
            level += 1
            frame = frame.f_back  # type: ignore[assignment]
            continue
        break
    return level
