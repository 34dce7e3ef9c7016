"""Errors raised by modeldoc.

Every error roots at :class:`ModeldocError`; its message says what was wrong and how to
fix it. Errors are translated only at the boundary (the CLI exit code, MkDocs' PluginError).
"""

from __future__ import annotations


class ModeldocError(Exception):
    """Base of every error modeldoc raises on purpose."""


class ConfigError(ModeldocError):
    """An option, a CLI flag or a configuration entry is malformed."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(f"{what}; {fix}")


class ModelLoadError(ModeldocError):
    """A target could not be imported, found or built."""

    def __init__(self, target: str, problem: str, fix: str) -> None:
        super().__init__(f"cannot load {target!r}: {problem}; {fix}")


class ProbeError(ModeldocError):
    """The example forward pass failed."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}; {fix}")


class CheckpointError(ModeldocError):
    """A checkpoint file cannot be read, or does not fit the model it is loaded into."""

    def __init__(self, file: str, problem: str, fix: str) -> None:
        super().__init__(f"{file}: {problem}; {fix}")


class GraphvizNotFound(ModeldocError):
    """The Graphviz `dot` binary is not on PATH."""

    def __init__(self) -> None:
        super().__init__(
            "the Graphviz 'dot' binary was not found on PATH; install Graphviz "
            "(Debian/Ubuntu: apt-get install graphviz, macOS: brew install graphviz) "
            "or pass --no-diagrams"
        )


class OutputError(ModeldocError):
    """The output location cannot be written safely."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(f"{what}; {fix}")


class DerivationTooLarge(ModeldocError):
    """Following a model's sizes back through its trace would take more work than its size allows."""

    def __init__(self, where: str, budget: int) -> None:
        super().__init__(
            f"deriving {where} needs more than {budget:,} units of work, the budget for a trace this size; "
            "describe a configuration with fewer layers, and report the model to modeldoc "
            "so its derivations can be fixed"
        )


class TorchMissing(ModeldocError):
    """PyTorch is not installed: modeldoc can read options and show help, but not describe a model."""

    def __init__(self) -> None:
        super().__init__(
            "PyTorch is not installed in this Python environment, and describing a model needs it; "
            "install it (pip install torch) and run modeldoc again"
        )
