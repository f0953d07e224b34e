"""Public names of a package loaded on first use (PEP 562), shared by `sampling` and `analysis`.

A package lists its public names and the submodule defining each; `from package import name`
(or `package.name`) then imports that submodule only, so a command pays for what it runs.
"""

import importlib
from collections.abc import Callable


def lazy_exports(package: str, namespace: dict, exports: dict[str, str]) -> tuple[Callable, Callable]:
    """`__getattr__` and `__dir__` for the package `package` whose module globals are
    `namespace`, exporting each name of `exports` from the submodule it maps to."""

    def __getattr__(name):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value  # later look-ups are plain attribute reads
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
