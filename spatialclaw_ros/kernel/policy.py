"""What agent code may do, checked before it runs (the first of the sandbox's layers).

The static check is deliberately strict and simple: an import allow-list, no names or
attributes that start with an underscore (which closes `__class__` / `__subclasses__` /
`__globals__` walks), no attributes that lead to the interpreter's internals, and none of the
builtins that run or reach code by name. It cannot see strings built at run time; the
worker's guarded builtins and audit hook cover those.
"""

from __future__ import annotations

import ast
import string
import threading
from dataclasses import dataclass

# Modules agent code may import (a module is allowed when it or a parent package is listed).
ALLOWED_MODULES = frozenset(
    {
        "numpy", "scipy", "math", "cmath", "cv2", "networkx", "collections", "itertools",
        "functools",
        "statistics", "random", "heapq", "bisect", "re", "json", "dataclasses", "typing", "copy",
        "fractions", "decimal", "operator", "enum", "numbers", "datetime", "abc", "warnings",
        "pprint", "textwrap",
        "colorsys", "time", "matplotlib", "mpl_toolkits.mplot3d",
    }
)  # fmt: skip  # a table, kept in rows

# Allowed as a whole module only: agent code gets a reduced facade, never the real submodules
# (cv2 without file/camera/network functions, time without clock setting).
FACADE_MODULES = frozenset({"cv2", "time"})

# Parts of allowed packages that touch files, processes, compilers or native memory.
DENIED_MODULES = frozenset(
    {
        "numpy.f2py", "numpy.distutils", "numpy.testing", "numpy.ctypeslib", "numpy.lib.format",
        "numpy.lib.npyio", "numpy.lib.recfunctions",
        "scipy.io", "scipy.datasets", "scipy.misc",
        "matplotlib.backends", "matplotlib.backend_bases", "matplotlib.testing",
        "matplotlib.style",
        "matplotlib.font_manager", "matplotlib.animation", "matplotlib.image",
        "networkx.readwrite", "networkx.drawing.nx_agraph", "networkx.drawing.nx_pydot",
        "networkx.drawing.nx_latex",
    }
)  # fmt: skip  # a table, kept in rows

# Modules no code in the worker may load once agent code runs, even when a library asks.
FORBIDDEN_IN_WORKER = frozenset(
    {
        "subprocess", "socket", "_socket", "ssl", "asyncio", "multiprocessing", "concurrent",
        "http", "urllib",
        "ftplib", "smtplib", "poplib", "imaplib", "telnetlib", "xmlrpc", "webbrowser", "pty",
        "tty", "shutil",
        "tempfile", "sqlite3", "dbm", "shelve", "pdb", "code", "codeop", "runpy", "ctypes",
        "_ctypes", "mmap",
        "numpy.f2py", "numpy.distutils", "numpy.testing", "numpy.ctypeslib", "scipy.io",
        "scipy.datasets",
        "pydot", "pygraphviz",
    }
)  # fmt: skip  # a table, kept in rows

# Builtins that run code, reach namespaces or the console by name.
DENIED_BUILTINS = frozenset(
    {"eval", "exec", "compile", "open", "globals", "locals", "vars", "breakpoint"}
)

# Attributes that lead to the interpreter, the OS, or reflective access, whatever object holds
# them.
DENIED_ATTRIBUTES = frozenset(
    {
        "os", "sys", "builtins", "subprocess", "ctypes", "ctypeslib", "socket", "shutil",
        "importlib", "pickle",
        "marshal", "posix", "io", "f2py", "testing", "distutils", "gc", "inspect", "system",
        "popen", "environ",
        "getenv", "attrgetter", "methodcaller", "f_globals", "f_locals", "f_back", "f_builtins",
        "f_code",
        "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "tb_frame", "tb_next",
        "co_code",
        "format_map", "as_strided", "bltns",
    }
)  # fmt: skip  # a table, kept in rows

# Underscore attributes with no reach beyond their object.
ALLOWED_UNDERSCORE_ATTRIBUTES = frozenset(
    {"__init__", "__name__", "__doc__", "_asdict", "_replace", "_fields", "_make"}
)


def module_allowed(name: str, private_ok: bool = False) -> bool:
    """Whether agent code may import `name` (also used for `from x import y` as "x.y").
    `private_ok` admits private submodules of allowed packages, which numpy's C code imports
    lazily through the builtins of whatever frame is running."""
    parts = name.split(".")
    if (not private_ok and any(p.startswith("_") for p in parts)) or (
        parts[0] in FACADE_MODULES and len(parts) > 1
    ):
        return False
    prefixes = [".".join(parts[: i + 1]) for i in range(len(parts))]
    return any(p in ALLOWED_MODULES for p in prefixes) and not any(
        p in DENIED_MODULES for p in prefixes
    )


def import_from_allowed(module: str, name: str, private_ok: bool = False) -> bool:
    """Whether `from module import name` may run. A facade holds only what agent code may use,
    so any public name may be asked of it (a missing one fails as an ImportError)."""
    if module in FACADE_MODULES:
        return module_allowed(module) and (name == "*" or not name.startswith("_"))
    return name == "*" or module_allowed(f"{module}.{name}", private_ok)


def module_forbidden_in_worker(name: str) -> bool:
    parts = name.split(".")
    return any(".".join(parts[: i + 1]) in FORBIDDEN_IN_WORKER for i in range(len(parts)))


def attribute_allowed(name: str) -> bool:
    if name.startswith("_"):
        return name in ALLOWED_UNDERSCORE_ATTRIBUTES
    return name not in DENIED_ATTRIBUTES


@dataclass(frozen=True)
class Violation:
    line: int
    message: str


def _format_template_ok(template: str) -> bool:
    """A literal str.format template may not look up underscore attributes or keys in its
    fields."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    except ValueError:
        return True  # str.format itself will raise a clear error
    return not any("._" in f or "[_" in f for f in fields)


class _Checker:
    """One `visit_<NodeType>` per rule; `check` walks the tree without recursion, so a deeply
    nested cell cannot exhaust the host's stack."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def deny(self, node: ast.AST, message: str) -> None:
        self.violations.append(Violation(getattr(node, "lineno", 0), message))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not module_allowed(alias.name):
                self.deny(node, f"import of '{alias.name}' is not allowed")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            self.deny(node, "relative imports are not allowed")
            return
        if not module_allowed(node.module):
            self.deny(node, f"import of '{node.module}' is not allowed")
            return
        for alias in node.names:
            if alias.name == "*":
                continue
            if (
                alias.name.startswith("_")
                or not import_from_allowed(node.module, alias.name)
                or not attribute_allowed(alias.name)
            ):
                self.deny(node, f"import of '{node.module}.{alias.name}' is not allowed")

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in DENIED_BUILTINS and isinstance(node.ctx, ast.Load):
            self.deny(node, f"'{node.id}' is not available in the kernel")
        elif node.id.startswith("__") and node.id != "__name__":
            self.deny(node, f"the name '{node.id}' is not available in the kernel")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if not attribute_allowed(node.attr):
            self.deny(node, f"access to the attribute '.{node.attr}' is not allowed")
        elif node.attr == "format":
            receiver = node.value
            if not (isinstance(receiver, ast.Constant) and isinstance(receiver.value, str)):
                self.deny(node, "str.format needs a literal template here; use an f-string")
            elif not _format_template_ok(receiver.value):
                self.deny(node, "format fields may not look up underscore attributes")

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name.startswith("__"):
                self.deny(node, f"the name '{name}' is not available in the kernel")


# CPython 3.11 keeps the AST builder's recursion count in interpreter-wide state, so two threads
# parsing at once (kernels of concurrent episodes) can fail with "SystemError: AST constructor
# recursion depth mismatch" (python/cpython#106905). Parses are short: one at a time.
_PARSE_LOCK = threading.Lock()


def check(source: str, filename: str = "<cell>") -> list[Violation]:
    """Rule violations in `source` (empty = may run). A SyntaxError propagates to the caller, as
    does the RecursionError of a cell nested too deeply for Python to parse."""
    with _PARSE_LOCK:
        tree = ast.parse(source, filename=filename)
    checker = _Checker()
    for node in ast.walk(tree):
        rule = getattr(checker, f"visit_{type(node).__name__}", None)
        if rule is not None:
            rule(node)
    return sorted(checker.violations, key=lambda v: v.line)
