"""Turn a target spec into a live object: the only place that imports the user's code.

A target is ``package.module:Name`` or ``path/to/file.py:Name``; ``Name`` may be dotted
(``Outer.make``). It names an ``nn.Module`` subclass, a function returning a module, or a
module instance.

It may also name a Hugging Face config, from which the model is built on the meta device (no
weights, no download, never the model's own code from the Hub): a config class
(``transformers:LlamaConfig``, its arguments in kwargs; built with ``AutoModel``), a model
class (``transformers:LlamaForCausalLM``, kwargs for its config class), or a saved
``config.json`` (transformers: built with ``AutoModel``, or the class after a colon,
``config.json:AutoModelForCausalLM``; diffusers: the ``_class_name`` it names), kwargs then
overriding its keys.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import inspect
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._device import DeviceContext

from modeldoc.errors import ModelLoadError
from modeldoc.probe.names import dtype_name, file_module
from modeldoc.spec import is_config_file

Module = nn.Module
"""What modeldoc describes; the rest of modeldoc names it in type hints through this, without importing torch."""

_LIVE: dict[str, Callable[[], Any]] = {}
"""Callables lent to targets for a moment (the Python API's example inputs)."""


@dataclass(frozen=True)
class Recipe:
    """How a model was built from a Hugging Face config: the config, and the call that builds it again."""

    config: Any
    """The transformers config object, or a diffusers config as a dict."""
    build: Callable[[Any], nn.Module]
    """Builds the model from a config like `config`, on the meta device, in the config's dtype."""
    built_by: str
    """``"AutoModel.from_config"``, ``"LlamaForCausalLM._from_config"``, ``"UNet2DModel.from_config"``."""
    built_from: str
    """What the target gave: ``"LlamaConfig(hidden_size=64)"``, or the config file's path."""
    dtype: str
    """The dtype the model's parameters were built in."""


@dataclass(frozen=True)
class Loaded:
    """A loaded model and where its code lives."""

    module: nn.Module
    source_file: Path | None
    recipe: Recipe | None = None
    """Set when modeldoc built the model from a config."""
    title: str = ""
    """What was built, for a model built from a config: ``"LlamaModel from LlamaConfig"``."""


def load_model(target: str, kwargs: Mapping[str, Any] | None = None) -> Loaded:
    """Import `target` and build the module it names with `kwargs`."""
    kwargs = dict(kwargs or {})
    location, sep, name = target.rpartition(":")
    if is_config_file(target):
        return _from_config_file(target, Path(target), "", kwargs)
    if sep and location.endswith(".json"):
        return _from_config_file(target, Path(location), name, kwargs)
    obj, source = _resolve(target)
    if _is_config_class(obj) or _is_model_class(obj) or _is_config(obj):
        return _from_config_target(target, obj, kwargs)
    if isinstance(obj, nn.Module):
        if kwargs:
            raise ModelLoadError(target, "it is a module instance, which takes no kwargs", "drop --kwargs")
        return Loaded(obj, source)
    if inspect.isclass(obj) and not issubclass(obj, nn.Module):
        raise ModelLoadError(
            target,
            f"{obj.__name__} is a class but not an nn.Module subclass (nor a Hugging Face config class)",
            "point at a torch.nn.Module, or a transformers config class such as transformers:LlamaConfig",
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
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    for line in lines[1:]:  # "Validation error for field 'x':" says what only on its next line
        if not first.endswith(":"):
            break
        first += f" {line}"
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
        if err.name in _HF_LIBRARIES and location.partition(".")[0] == err.name:
            raise _library_missing(target, err.name) from err
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


# Models built from Hugging Face configs ----------------------------------------------------------

ONE_MODE = True
"""Whether a build that skips its fills runs under one torch function mode, torch's meta device mode that
also skips the fills, rather than that mode with `SkipRandomFills` above it (tests turn it off to compare
with and without)."""
_HF_LIBRARIES = {"transformers": "Hugging Face transformers", "diffusers": "Hugging Face diffusers"}


def _library_missing(target: str, name: str) -> ModelLoadError:
    return ModelLoadError(target, f"{_HF_LIBRARIES[name]} is not installed", f"pip install {name}")


def _library(target: str, name: str) -> ModuleType:
    """The library `name` (transformers, diffusers), imported; a missing one is a one-line error naming the install."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name:
            raise ModelLoadError(target, f"importing {name} failed: {err}", f"install {err.name!r}") from err
        raise _library_missing(target, name) from err


def _loaded_class(module: str, name: str) -> Any:
    """``transformers.PretrainedConfig`` when that library is already imported, else None (no import here)."""
    library = sys.modules.get(module)
    return getattr(library, name, None) if library is not None else None


def _is_config_class(obj: Any) -> bool:
    base = _loaded_class("transformers", "PretrainedConfig")
    return base is not None and inspect.isclass(obj) and issubclass(obj, base)


def _is_config(obj: Any) -> bool:
    base = _loaded_class("transformers", "PretrainedConfig")
    return base is not None and isinstance(obj, base)


def _is_model_class(obj: Any) -> bool:
    """A transformers model class (``LlamaForCausalLM``): built from its config class and the kwargs."""
    base = _loaded_class("transformers", "PreTrainedModel")
    return (
        base is not None
        and inspect.isclass(obj)
        and issubclass(obj, base)
        and _is_config_class(getattr(obj, "config_class", None))
    )


def _from_config_target(target: str, obj: Any, kwargs: dict[str, Any]) -> Loaded:
    """A config class, a config object or a model class, named by a ``module:Name`` target."""
    transformers = _library(target, "transformers")
    if _is_config(obj):
        if kwargs:
            raise ModelLoadError(target, "it is a config object, which takes no kwargs", "drop --kwargs")
        config, built_from = obj, f"{type(obj).__name__} {target.rpartition(':')[2]}"
        head = transformers.AutoModel
    else:
        config_class = obj if _is_config_class(obj) else obj.config_class
        _check_keys(target, config_class, kwargs, ())
        config = _make_config(target, config_class, kwargs)
        built_from = f"{config_class.__name__}({_arguments_text(kwargs)})"
        head = transformers.AutoModel if _is_config_class(obj) else obj
    return _build(target, config, _builder(target, transformers, head, config), built_from)


def _from_config_file(target: str, path: Path, head_name: str, overrides: dict[str, Any]) -> Loaded:
    """A ``config.json`` saved with a transformers or diffusers model, built with the class it names."""
    data = _read_config(target, path)
    if "model_type" not in data and "_class_name" in data:
        return _from_diffusers_config(target, path, head_name, {**data, **overrides}, overrides)
    transformers = _library(target, "transformers")
    model_type = data["model_type"]
    mapping = importlib.import_module("transformers.models.auto.configuration_auto").CONFIG_MAPPING
    if not isinstance(model_type, str) or model_type not in mapping:
        unknown = f"its model_type {model_type!r} is not one transformers {transformers.__version__} knows"
        if "auto_map" in data:
            raise ModelLoadError(
                target,
                f"{unknown}: the config names its own code (auto_map), which modeldoc never runs from a config",
                "point at the model class in that code instead (path/to/modeling.py:Name)",
            )
        raise ModelLoadError(
            target, unknown, "correct model_type, or upgrade transformers (pip install -U transformers)"
        )
    config_class = mapping[model_type]
    _check_keys(target, config_class, overrides, tuple(data))
    try:
        config = config_class.from_dict({**data, **overrides})
    except KeyboardInterrupt:
        raise
    except Exception as err:  # the config class's own validation, in any form
        raise ModelLoadError(
            target, f"reading it as a {config_class.__name__} {_raised(err)}", "correct that key in the file"
        ) from err
    head: Any = transformers.AutoModel
    if head_name:
        head = getattr(transformers, head_name, None)
        if head is None:
            hint = _nearest(
                head_name, [n for n in dir(transformers) if n.startswith(("Auto", type(config).__name__[:4]))]
            )
            raise ModelLoadError(
                target,
                f"transformers has no class {head_name!r}",
                f"did you mean {hint!r}?" if hint else "name an Auto class (AutoModelForCausalLM) or a model class",
            )
    return _build(target, config, _builder(target, transformers, head, config), str(path))


def _from_diffusers_config(
    target: str, path: Path, head_name: str, data: dict[str, Any], overrides: dict[str, Any]
) -> Loaded:
    diffusers = _library(target, "diffusers")
    name = head_name or data["_class_name"]
    cls = getattr(diffusers, name, None) if isinstance(name, str) else None
    if not (inspect.isclass(cls) and issubclass(cls, nn.Module) and hasattr(cls, "from_config")):
        raise ModelLoadError(
            target,
            f"{name!r} is not a model class of diffusers {diffusers.__version__}",
            "correct _class_name, or upgrade diffusers (pip install -U diffusers)",
        )
    known = set(inspect.signature(cls.__init__).parameters) - {"self", "args", "kwargs"}
    _check_keys(target, None, overrides, tuple(known | set(data)))

    def build(config: Any) -> nn.Module:
        return cls.from_config(config)  # type: ignore[no-any-return]

    return _build(target, dict(data), _Builder(build, f"{cls.__name__}.from_config"), str(path))


def _read_config(target: str, path: Path) -> dict[str, Any]:
    fix = "give the config.json saved with the model (save_pretrained), or a modeldoc/1 description"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelLoadError(target, f"there is no file {path}", "check the path") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ModelLoadError(target, f"{path} cannot be read ({err})", fix) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ModelLoadError(
            target,
            f"{path} is not a Hugging Face config: it is not valid JSON "
            f"({err.msg} at line {err.lineno}, column {err.colno})",
            fix,
        ) from None
    if not isinstance(data, dict):
        raise ModelLoadError(target, f"{path} is not a Hugging Face config: it holds no JSON object", fix)
    if "model_type" not in data and "_class_name" not in data:
        raise ModelLoadError(
            target,
            f'{path} is not a Hugging Face config: it has no "model_type" (transformers) or "_class_name" (diffusers)',
            fix,
        )
    return data


def _check_keys(target: str, config_class: Any, given: Mapping[str, Any], extra: tuple[str, ...]) -> None:
    """A misspelt config key would be kept as a new attribute and change nothing: refuse it."""
    known = set(extra)
    if config_class is not None:
        known |= set(inspect.signature(config_class.__init__).parameters) - {"self", "args", "kwargs"}
        known |= set(getattr(config_class, "attribute_map", {}))
        known |= {"num_labels"}
        with contextlib.suppress(Exception):  # a config without defaults: its signature says enough
            known |= set(vars(config_class()))
    for key in given:
        if key not in known:
            hint = _nearest(key, sorted(known))
            owner = config_class.__name__ if config_class is not None else "the config"
            raise ModelLoadError(
                target,
                f"{owner} has no key {key!r}",
                f"did you mean {hint!r}?" if hint else "check the names in --kwargs",
            )


def _make_config(target: str, config_class: Any, kwargs: dict[str, Any]) -> Any:
    try:
        return config_class(**kwargs)
    except KeyboardInterrupt:
        raise
    except Exception as err:  # the config class's own validation, in any form
        first = _raised(err)
        raise ModelLoadError(target, f"{config_class.__name__}(...) {first}", "check the values in --kwargs") from err


def _arguments_text(kwargs: Mapping[str, Any]) -> str:
    parts = []
    for key, value in kwargs.items():
        text = json.dumps(value) if not isinstance(value, str) else repr(value)
        parts.append(f"{key}={text if len(text) <= 40 else text[:37] + '...'}")
    return ", ".join(parts)


@dataclass(frozen=True)
class _Builder:
    build: Callable[[Any], nn.Module]
    name: str


def _builder(target: str, transformers: ModuleType, head: Any, config: Any) -> _Builder:
    """How to build the model from `config`: with an Auto class, or a model class's own ``_from_config``."""
    name = getattr(head, "__name__", str(head))
    if name.startswith("Auto") and hasattr(head, "from_config"):

        def build_auto(config: Any) -> nn.Module:
            # trust_remote_code=False: a config's auto_map never makes modeldoc run code from the Hub
            return head.from_config(config, trust_remote_code=False)  # type: ignore[no-any-return]

        return _Builder(build_auto, f"{name}.from_config")
    if not _is_model_class(head):
        raise ModelLoadError(
            target,
            f"{name} is neither an Auto class nor a transformers model class",
            "name one such as AutoModelForCausalLM",
        )
    if not isinstance(config, head.config_class):
        raise ModelLoadError(
            target,
            f"{name} is built from a {head.config_class.__name__}, and the config is a {type(config).__name__}",
            "name a model class of that config's family, or an Auto class such as AutoModelForCausalLM",
        )

    def build_class(config: Any) -> nn.Module:
        return head._from_config(config)  # type: ignore[no-any-return]

    return _Builder(build_class, f"{name}._from_config")


def build_on_meta(
    build: Callable[[Any], nn.Module],
    config: Any,
    *,
    skip_fills: bool = False,
    results: MetaResults | None = None,
) -> nn.Module:
    """The model `build` makes from `config`, on the meta device, with the Hub switched offline meanwhile.

    `skip_fills` leaves out the random fills of weight initialisation (``nn.init.normal_``, a
    Linear's ``kaiming_uniform_``): on the meta device they fill nothing, yet each costs a
    decomposition. Every check they make of their arguments still runs (`SkipRandomFills`), and
    all else (weight tying, buffers, the model's own code) runs as it would. `results`, with
    `skip_fills`, are the results of plain arithmetic on meta tensors shared by the builds that
    pass the same (`MetaResults`).
    """
    hub = sys.modules.get("huggingface_hub.constants")
    offline = getattr(hub, "HF_HUB_OFFLINE", None)
    if hub is not None:
        setattr(hub, "HF_HUB_OFFLINE", True)  # noqa: B010 - a config that asks for pretrained parts must not download
    try:
        if skip_fills and ONE_MODE:
            with _MetaSkippingFills(torch.device("meta"), results):
                return build(config)
        with torch.device("meta"), SkipRandomFills() if skip_fills else contextlib.nullcontext():
            return build(config)
    finally:
        if hub is not None:
            setattr(hub, "HF_HUB_OFFLINE", offline)  # noqa: B010 - put back as it was


class SkipRandomFills(TorchFunctionMode):
    """Random fills of meta tensors returned at once, after the checks the fill itself would make.

    Only the plain case is skipped: a meta tensor, no generator of its own, finite bounds in
    order (``a <= b``, ``std >= 0``), no in-place write that autograd would refuse. Anything else
    (a zero-element tensor, a CPU tensor, odd bounds) runs the real function, which raises or
    warns as it always does.
    """

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Mapping[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        skipped = _skipped_fill(func, args, kwargs)
        return skipped if skipped is not None else func(*args, **kwargs)


class _MetaSkippingFills(DeviceContext):
    """``with torch.device("meta"), SkipRandomFills():`` as one mode: torch's device mode, skipping fills first.

    Each torch call of a build passes through Python once rather than twice. A call that is not
    skipped goes on to the device mode's own handling, as it did from `SkipRandomFills` above it;
    with `results`, a plain arithmetic call made before with the same arguments gets a new meta
    tensor like the one it gave then (`MetaResults`).
    """

    def __init__(self, device: torch.device, results: MetaResults | None = None) -> None:
        super().__init__(device)
        self.results = results

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        if not _special(func):  # most calls: neither a fill nor arithmetic kept
            return super().__torch_function__(func, types, args, kwargs)
        skipped = _skipped_fill(func, args, kwargs)
        if skipped is not None:
            return skipped
        if self.results is None or not _pure(func):
            return super().__torch_function__(func, types, args, kwargs)
        device_mode = super().__torch_function__
        return self.results.call(func, args, kwargs, lambda: device_mode(func, types, args, kwargs))


class MetaResults:
    """The results of plain arithmetic on the meta device, kept across the builds of one config measurement.

    A rotary embedding computes its frequencies at every build (``1.0 / (base ** (torch.arange(0,
    dim, 2) / dim))``); on the meta device each step is a Python decomposition, yet it only works
    out a shape, a stride and a dtype. A call of one of `_PURE` (which always return a new tensor)
    whose arguments are numbers, dtypes, devices and meta tensors that need no grad, made before
    with arguments alike (their types and values, the tensors' shapes, strides, offsets and
    dtypes, the default dtype), gets a new meta tensor of the shape, stride and dtype it gave then:
    what the call gives, since a meta tensor holds nothing else. Any other call runs as it would.
    """

    def __init__(self) -> None:
        self.made: dict[tuple[Any, ...], tuple[tuple[int, ...], tuple[int, ...], torch.dtype]] = {}
        self.reused = 0
        """How many calls were answered from `made` (what the tests count)."""

    def call(self, func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], run: Callable[[], Any]) -> Any:
        """``func(*args, **kwargs)`` as `run` makes it, or a tensor like the one a call alike made before."""
        try:
            key = _call_key(func, args, kwargs)
        except Exception:  # an argument that cannot be looked at: the call runs as it would
            key = None
        if key is None:
            return run()
        seen = self.made.get(key)
        if seen is not None:
            self.reused += 1
            shape, stride, dtype = seen
            return torch.empty_strided(shape, stride, dtype=dtype, device="meta")
        made = run()
        with contextlib.suppress(Exception):  # a result that cannot be looked at is not kept
            if _new_meta(made, args, kwargs):
                self.made[key] = (tuple(made.shape), made.stride(), made.dtype)
        return made


def _call_key(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """What a call of `_PURE` depends on, or None when it is not one, or has an argument of another kind."""
    if not _pure(func) or torch.is_inference_mode_enabled():
        return None
    if "out" in kwargs or kwargs.get("requires_grad") or kwargs.get("pin_memory"):
        return None
    parts: list[Any] = [func, torch.get_default_dtype()]
    for name, value in [*enumerate(args), *sorted(kwargs.items())]:
        part = _part(value)
        if part is None:
            return None
        parts.append((name, part))
    return tuple(parts)


def _special(func: Any) -> bool:
    """Whether `func` is a fill `_skipped_fill` may skip or arithmetic `MetaResults` may keep."""
    try:
        return func in _SPECIAL
    except TypeError:  # a function that cannot be hashed: not one of torch's
        return False


def _pure(func: Any) -> bool:
    """Whether `func` is one of `_PURE`."""
    try:
        return func in _PURE
    except TypeError:  # a function that cannot be hashed: not one of torch's
        return False


def _part(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of argument
    """What an argument brings to a call's result, as a key; None for an argument of another kind."""
    if value is None:
        return ("none",)
    if type(value) in (bool, int, float):
        return (type(value).__name__, repr(value))
    if isinstance(value, torch.dtype):
        return ("dtype", value)
    if isinstance(value, torch.device):
        return ("device", str(value))
    if type(value) is torch.Tensor and value.device.type == "meta" and not value.requires_grad:
        if value.layout is not torch.strided or value.is_quantized:
            return None
        if value.is_conj() or value.is_neg() or value.is_inference():
            return None
        return ("tensor", tuple(value.shape), value.stride(), value.storage_offset(), value.dtype)
    return None


def _new_meta(made: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
    """Whether `made` is a new plain meta tensor: no view, none of the arguments, no grad, offset 0."""
    return (
        type(made) is torch.Tensor
        and made.device.type == "meta"
        and made.layout is torch.strided
        and not made.is_quantized
        and not made.requires_grad
        and made._base is None
        and made.storage_offset() == 0
        and not made.is_conj()
        and not made.is_neg()
        and not made.is_inference()
        and all(made is not value for value in (*args, *kwargs.values()))
    )


_PURE = frozenset(
    {
        torch.arange,
        torch.Tensor.__rpow__,
        torch.Tensor.__pow__,
        torch.Tensor.pow,
        torch.pow,
        torch.Tensor.__truediv__,
        torch.Tensor.__rtruediv__,
        torch.Tensor.__rdiv__,
        torch.Tensor.div,
        torch.div,
        torch.Tensor.__mul__,
        torch.Tensor.__rmul__,
        torch.Tensor.mul,
        torch.mul,
        torch.Tensor.reciprocal,
        torch.reciprocal,
    }
)
"""Arithmetic that always returns a new tensor, computed from its arguments' shapes, dtypes and values alone."""


def _skipped_fill(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """The tensor a fill would return, when the call is a plain random fill of a meta tensor; else None."""
    try:
        return _plain_fill(func, args, kwargs)
    except TypeError:  # a function that cannot be hashed: no fill of torch's
        return None


def _plain_fill(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """`_skipped_fill`, for a function that can be hashed."""
    tensor: Any
    if args and func in _FILL_METHODS:  # tensor.uniform_(a, b), as xavier_uniform_ calls it
        tensor, *given = args
        names = _FILL_METHODS[func]
        if len(given) > len(names) or set(kwargs) - {*names, "generator"}:
            return None
        if tensor.requires_grad and torch.is_grad_enabled():
            return None  # autograd refuses an in-place write to a leaf that needs grad: the real call says so
        values = [
            given[i] if i < len(given) else kwargs.get(name, default) for i, (name, default) in enumerate(names.items())
        ]
        uniform = func is torch.Tensor.uniform_
    elif not args and func in _FILL_FUNCTIONS:  # nn.init.normal_(tensor, mean, std), dispatched by keyword
        tensor = kwargs.get("tensor")
        names = _FILL_FUNCTIONS[func]
        values = [kwargs.get(name, default) for name, default in names.items()]
        uniform = func is not nn.init.normal_
        if func is nn.init.kaiming_uniform_:
            if not _plain_meta(tensor, kwargs.get("generator")):
                return None
            fan = nn.init._calculate_correct_fan(tensor, values[1])
            gain = nn.init.calculate_gain(values[2], values[0])
            bound = math.sqrt(3.0) * gain / math.sqrt(fan)
            values = [-bound, bound]
    else:
        return None
    if not _plain_meta(tensor, kwargs.get("generator")) or not all(_real(v) for v in values):
        return None
    first, second = values
    limit = torch.finfo(tensor.dtype).max
    ok = (
        first <= second and second - first <= limit and max(abs(first), abs(second)) <= limit
        if uniform
        else second >= 0
    )
    return tensor if ok else None


_FILL_METHODS: dict[Any, dict[str, float]] = {
    torch.Tensor.uniform_: {"from": 0.0, "to": 1.0},
    torch.Tensor.normal_: {"mean": 0.0, "std": 1.0},
}
_FILL_FUNCTIONS: dict[Any, dict[str, Any]] = {
    nn.init.uniform_: {"a": 0.0, "b": 1.0},
    nn.init.normal_: {"mean": 0.0, "std": 1.0},
    nn.init.kaiming_uniform_: {"a": 0, "mode": "fan_in", "nonlinearity": "leaky_relu"},
}


def _plain_meta(tensor: Any, generator: Any) -> bool:
    """A non-empty floating-point meta tensor, filled from the default generator."""
    return (
        isinstance(tensor, torch.Tensor)
        and tensor.device.type == "meta"
        and tensor.is_floating_point()
        and generator is None
        and tensor.numel() > 0
    )


def _real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _build(target: str, config: Any, builder: _Builder, built_from: str) -> Loaded:
    try:
        module = build_on_meta(builder.build, config)
    except KeyboardInterrupt:
        raise
    except Exception as err:  # the library's own checks of the config, in any form
        raise ModelLoadError(
            target, f"{builder.name} {_raised(err)}", "check the config's values (and --kwargs)"
        ) from err
    if not isinstance(module, nn.Module):
        raise ModelLoadError(target, f"{builder.name} returned a {type(module).__name__}", "name a model class")
    floats = [p.dtype for p in module.parameters() if p.is_floating_point()]
    dtype = dtype_name(floats[0]) if floats else ""
    config_name = type(config).__name__ if not isinstance(config, dict) else Path(built_from).name
    recipe = Recipe(config=config, build=builder.build, built_by=builder.name, built_from=built_from, dtype=dtype)
    return Loaded(module, None, recipe, f"{type(module).__name__} from {config_name}")


_SPECIAL = frozenset({*_FILL_METHODS, *_FILL_FUNCTIONS, *_PURE})
