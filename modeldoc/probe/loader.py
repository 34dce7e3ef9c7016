"""Turn a target spec into a live object: the only place that imports the user's code.

A target is ``package.module:Name`` or ``path/to/file.py:Name``; ``Name`` may be dotted
(``Outer.make``). It names an ``nn.Module`` subclass, a function returning a module, or a
module instance.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from modeldoc.errors import ModelLoadError
from modeldoc.probe.names import file_module

Module = nn.Module
"""What modeldoc describes; the rest of modeldoc names it in type hints through this, without importing torch."""

_LIVE: dict[str, Callable[[], Any]] = {}
"""Callables lent to targets for a moment (the Python API's example inputs)."""


@dataclass(frozen=True)
class Loaded:
    """A loaded model and where its code lives."""

    module: nn.Module
    source_file: Path | None


def load_model(target: str, kwargs: Mapping[str, Any] | None = None) -> Loaded:
    """Import `target` and build the module it names with `kwargs`."""
    obj, source = _resolve(target)
    kwargs = dict(kwargs or {})
    if isinstance(obj, nn.Module):
        if kwargs:
            raise ModelLoadError(target, "it is a module instance, which takes no kwargs", "drop --kwargs")
        return Loaded(obj, source)
    if inspect.isclass(obj) and not issubclass(obj, nn.Module):
        raise ModelLoadError(
            target, f"{obj.__name__} is a class but not an nn.Module subclass", "point at a torch.nn.Module"
        )
    if not callable(obj):
        raise ModelLoadError(
            target,
            f"it is of type {type(obj).__name__}, not an nn.Module",
            "point at an nn.Module subclass, a function returning one, or a module instance",
        )
    built = _call(target, obj, kwargs)
    if not isinstance(built, nn.Module):
        raise ModelLoadError(
            target,
            f"calling it returned an object of type {type(built).__name__}, not an nn.Module",
            "point at a function that returns the model",
        )
    return Loaded(built, source)


def load_callable(target: str) -> Any:
    """Import `target` and return the callable it names (an example-input factory)."""
    if target in _LIVE:
        return _LIVE[target]
    obj, _ = _resolve(target)
    if not callable(obj):
        raise ModelLoadError(target, f"it is of type {type(obj).__name__}, not a function", "point at a function")
    return obj


def load_object(target: str) -> Any:
    """Import `target` and return the object it names, whatever it is (the class a knowledge entry names)."""
    return _resolve(target)[0]


@contextmanager
def lend(func: Callable[[], Any], name: str) -> Iterator[str]:
    """Make `func` loadable by `load_callable` under a target of its own while the block runs."""
    target = f"<{name}>:{id(func)}"
    _LIVE[target] = func
    try:
        yield target
    finally:
        _LIVE.pop(target, None)


def is_module(obj: object) -> bool:
    """True for an ``nn.Module`` instance (the Python API takes one in place of a target)."""
    return isinstance(obj, nn.Module)


def _call(target: str, obj: Any, kwargs: dict[str, Any]) -> Any:
    try:
        return obj(**kwargs)
    except TypeError as err:
        if _signature_rejects(obj, kwargs):
            raise ModelLoadError(
                target, f"its arguments do not fit ({err})", "check the names and values in --kwargs"
            ) from err
        raise ModelLoadError(target, f"building it raised TypeError: {err}", "check --kwargs") from err
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # sys.exit() and BaseException subclasses in user code too
        raise ModelLoadError(target, f"building it {_raised(err)}", "check --kwargs and the constructor") from err


def _raised(err: BaseException) -> str:
    """What user code did, in words: ``raised ValueError: width must be even`` or ``called sys.exit(3)``."""
    if isinstance(err, SystemExit):
        return f"called sys.exit({'' if err.code is None else repr(err.code)})"
    text = str(err).strip()
    first = text.splitlines()[0] if text else ""
    first = first if len(first) <= 200 else first[:197] + "..."
    return f"raised {type(err).__name__}: {first}" if first else f"raised {type(err).__name__}"


def _signature_rejects(obj: Any, kwargs: dict[str, Any]) -> bool:
    try:
        inspect.signature(obj).bind(**kwargs)
    except TypeError:
        return True
    except ValueError:
        return False
    return False


def _resolve(target: str) -> tuple[Any, Path | None]:
    location, sep, attr_path = target.rpartition(":")
    if not sep or not location or not attr_path:
        raise ModelLoadError(
            target, "it is not of the form module:Name", "write package.module:Name or path/to/file.py:Name"
        )
    module = _import(target, location)
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = sorted(n for n in dir(obj) if not n.startswith("_"))
            hint = _nearest(part, names)
            raise ModelLoadError(
                target,
                f"{location if obj is module else getattr(obj, '__name__', location)} has no attribute {part!r}",
                f"did you mean {hint!r}?" if hint else "check the name after the colon",
            ) from None
    source = getattr(module, "__file__", None)
    return obj, Path(source).resolve() if source else None


def _import(target: str, location: str) -> ModuleType:
    if location.endswith(".py") or "/" in location or "\\" in location:
        return _import_file(target, Path(location))
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        # `python -m` puts the working directory on sys.path; a console script does not.
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(location)
    except ModuleNotFoundError as err:
        if err.name and (location == err.name or location.startswith(err.name + ".")):
            raise ModelLoadError(
                target,
                f"no module named {err.name!r}",
                "check the spelling and that it is importable from this directory (or set PYTHONPATH)",
            ) from err
        raise ModelLoadError(
            target, f"importing {location} failed: {err}", f"install {err.name!r} or fix the import"
        ) from err
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # sys.exit() and BaseException subclasses in user code too
        raise ModelLoadError(
            target, f"importing {location} {_raised(err)}", _fix_for(err, "fix the error in that module")
        ) from err


def _import_file(target: str, path: Path) -> ModuleType:
    path = path.resolve()
    if not path.is_file():
        raise ModelLoadError(target, f"there is no file {path}", "check the path before the colon")
    name = file_module(path)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(target, f"{path} cannot be imported", "point at a .py file")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent)
    added = folder not in sys.path
    if added:
        # Lets the file import its neighbours, as `python file.py` would.
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as err:
        sys.modules.pop(name, None)
        if isinstance(err, KeyboardInterrupt):
            raise
        raise ModelLoadError(
            target, f"running {path.name} {_raised(err)}", _fix_for(err, "fix the error in that file")
        ) from err
    finally:
        if added:
            sys.path.remove(folder)
    return module


def _fix_for(err: BaseException, fix: str) -> str:
    if isinstance(err, SystemExit):
        return "guard script code with if __name__ == '__main__': so that importing the file does not run it"
    return fix


def _nearest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return close[0] if close else ""
