"""What agent code gets instead of the interpreter's own builtins and OpenCV module."""

from __future__ import annotations

import ast
import builtins
import types

from spatialclaw_ros.kernel.audit import SandboxViolation
from spatialclaw_ros.kernel.policy import (
    DENIED_BUILTINS,
    attribute_allowed,
    import_from_allowed,
    module_allowed,
)

# The name cells' attribute reads are routed through (see guard_attributes); it lives in the
# cell's builtins, and cell code cannot name it (the static check refuses names with "__").
ATTRIBUTE_GUARD = "__spatialclaw_attribute__"
_INTERPRETER_TYPES = (types.FrameType, types.CodeType, types.TracebackType)
_REAL_BUILTINS = frozenset(
    id(getattr(builtins, name))
    for name in (*DENIED_BUILTINS, "__import__", "getattr", "setattr", "delattr", "input")
)


class _AttributeGuard(ast.NodeTransformer):
    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.ctx, ast.Load):
            return node
        call = ast.Call(
            ast.Name(ATTRIBUTE_GUARD, ast.Load()), [node.value, ast.Constant(node.attr)], []
        )
        return ast.copy_location(call, node)


def guard_attributes(tree: ast.Module) -> ast.Module:
    """Route every attribute read of a cell through the guard, which checks what comes back:
    a module, a frame or the interpreter's own builtins can hide behind any public attribute
    of a library module (`enum.bltns` is the real builtins module), which no static check sees."""
    return ast.fix_missing_locations(_AttributeGuard().visit(tree))


_REMOVED_BUILTINS = DENIED_BUILTINS | {
    "__import__", "input", "help", "exit", "quit", "copyright", "credits", "license", "__loader__",
    "__spec__",
    "getattr", "setattr", "delattr", "hasattr",
}  # fmt: skip  # a table, kept in rows

# OpenCV functions without file, camera, network or plugin access.
CV2_FUNCTIONS = (
    "cvtColor resize GaussianBlur medianBlur blur bilateralFilter Canny Sobel Laplacian "
    "threshold adaptiveThreshold "
    "inRange bitwise_and bitwise_or bitwise_not bitwise_xor addWeighted add subtract "
    "absdiff erode dilate "
    "morphologyEx getStructuringElement findContours drawContours contourArea arcLength "
    "approxPolyDP boundingRect "
    "minAreaRect boxPoints minEnclosingCircle fitEllipse fitLine convexHull moments "
    "HuMoments pointPolygonTest "
    "connectedComponents connectedComponentsWithStats distanceTransform floodFill "
    "rectangle circle line arrowedLine "
    "ellipse polylines fillPoly fillConvexPoly putText getTextSize drawMarker "
    "warpAffine warpPerspective "
    "getAffineTransform getPerspectiveTransform getRotationMatrix2D "
    "perspectiveTransform transform remap flip rotate "
    "copyMakeBorder equalizeHist calcHist compareHist normalize split merge "
    "matchTemplate minMaxLoc meanStdDev mean "
    "countNonZero findNonZero norm magnitude phase cartToPolar polarToCart Rodrigues "
    "projectPoints solvePnP "
    "solvePnPRansac undistort undistortPoints initUndistortRectifyMap findHomography "
    "findFundamentalMat "
    "findEssentialMat recoverPose decomposeEssentialMat decomposeHomographyMat triangulatePoints "
    "convertPointsToHomogeneous convertPointsFromHomogeneous estimateAffine2D "
    "estimateAffinePartial2D "
    "calcOpticalFlowPyrLK calcOpticalFlowFarneback goodFeaturesToTrack cornerHarris "
    "HoughLines HoughLinesP "
    "HoughCircles pyrDown pyrUp applyColorMap LUT convertScaleAbs kmeans watershed "
    "intersectConvexConvex "
    "rotatedRectangleIntersection hconcat vconcat"
).split()


# Clocks and sleeping; not clock_settime & co.
TIME_FUNCTIONS = (
    "time time_ns perf_counter perf_counter_ns monotonic monotonic_ns process_time "
    "sleep strftime strptime gmtime "
    "localtime mktime ctime asctime struct_time"
).split()


def _facade(module: types.ModuleType, doc: str, names: list[str]) -> types.ModuleType:
    """A module holding only `names` of `module` and its upper-case numeric constants."""
    facade = types.ModuleType(module.__name__, doc)
    for name in names:
        if hasattr(module, name):
            setattr(facade, name, getattr(module, name))
    for name, value in vars(module).items():
        if name[:1].isupper() and name.upper() == name and isinstance(value, (int, float)):
            setattr(facade, name, value)
    return facade


def opencv_facade(cv2: types.ModuleType) -> types.ModuleType:
    """A `cv2` module holding only the pure image-processing functions and the numeric
    constants."""
    return _facade(
        cv2, "OpenCV (image processing only; no file, camera or network I/O)", CV2_FUNCTIONS
    )


def time_facade(time: types.ModuleType) -> types.ModuleType:
    """A `time` module for measuring and waiting, without the functions that set clocks."""
    return _facade(time, "time (clocks, sleep and formatting only)", TIME_FUNCTIONS)


class SafeBuiltins:
    """Builds the builtins of the cell namespace: no eval/exec/open, a guarded import, and
    getattr & co. that refuse underscore names (the static check cannot see computed names)."""

    def __init__(self, violations: list[str], overrides: dict[str, types.ModuleType]) -> None:
        self._violations = violations
        self._overrides = overrides

    def _refuse(self, reason: str) -> SandboxViolation:
        self._violations.append(reason)
        return SandboxViolation(f"blocked by the sandbox: {reason}")

    def _checked_name(self, name) -> str:
        if not isinstance(name, str):
            raise TypeError("attribute name must be a string")
        if not attribute_allowed(name):
            raise self._refuse(f"access to the attribute '{name}' is not allowed")
        return name

    def _checked_value(self, value, name: str):
        """What an attribute read may hand to agent code."""
        if isinstance(value, types.ModuleType):
            module = vars(value).get("__name__")
            if module in self._overrides:
                return self._overrides[module]
            if value is builtins or not isinstance(module, str) or not module_allowed(module):
                raise self._refuse(
                    f"the module behind '.{name}' ({module}) is not available in the kernel"
                )
        elif isinstance(value, _INTERPRETER_TYPES):
            raise self._refuse(f"'.{name}' leads to the interpreter's frames or code")
        elif id(value) in _REAL_BUILTINS:
            raise self._refuse(
                f"'.{name}' is the interpreter's own '{getattr(value, '__name__', name)}'"
            )
        return value

    def build(self) -> dict:
        namespace = {k: v for k, v in vars(builtins).items() if k not in _REMOVED_BUILTINS}

        def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002 - __import__'s signature
            if level or not isinstance(name, str) or not module_allowed(name, private_ok=True):
                raise self._refuse(f"import of {name!r} is not allowed")
            for item in fromlist or ():
                if not isinstance(item, str) or not import_from_allowed(
                    name, item, private_ok=True
                ):
                    raise self._refuse(f"import of '{name}.{item}' is not allowed")
            if name in self._overrides:
                return self._overrides[name]
            return builtins.__import__(name, globals, locals, fromlist, level)

        def getattr_(obj, name, *default):
            return self._checked_value(getattr(obj, self._checked_name(name), *default), name)

        def attribute(obj, name):
            return self._checked_value(getattr(obj, self._checked_name(name)), name)

        def type_(*args, **kwargs):
            # type(name, bases, namespace) makes a class whose namespace keys no static check
            # saw; dataclasses and namedtuple compile code from them (field names).
            if len(args) == 3 and isinstance(args[2], dict):
                annotations = args[2].get("__annotations__", {})
                keys = [*args[2], *(annotations if isinstance(annotations, dict) else ())]
                if any(
                    not isinstance(k, str) or not k.isidentifier() or not attribute_allowed(k)
                    for k in keys
                    if k != "__annotations__"
                ):
                    raise self._refuse("type(): class namespaces may only hold plain identifiers")
            return type(*args, **kwargs)

        def setattr_(obj, name, value):
            setattr(obj, self._checked_name(name), value)

        def delattr_(obj, name):
            delattr(obj, self._checked_name(name))

        def hasattr_(obj, name):
            return hasattr(obj, self._checked_name(name))

        def refused(name: str):
            def builtin(*args, **kwargs):
                raise self._refuse(f"'{name}' is not available in the kernel")

            builtin.__name__ = builtin.__qualname__ = name
            return builtin

        # Stubs rather than gaps: numpy's C code looks `open` up in the running frame's builtins
        # and fails obscurely when it is missing.
        namespace.update({name: refused(name) for name in DENIED_BUILTINS})
        namespace.update(
            __import__=guarded_import,
            getattr=getattr_,
            setattr=setattr_,
            delattr=delattr_,
            hasattr=hasattr_,
        )
        namespace[ATTRIBUTE_GUARD] = attribute
        namespace["type"] = _TypeProxy(type_)
        for fn, name in (
            (getattr_, "getattr"),
            (setattr_, "setattr"),
            (delattr_, "delattr"),
            (hasattr_, "hasattr"),
        ):
            fn.__name__ = fn.__qualname__ = name
            fn.__doc__ = getattr(builtins, name).__doc__
        return namespace


class _TypeProxy:
    """`type` for cells: calls are checked, while `isinstance(x, type)` and `type(x)` still
    work."""

    def __init__(self, call) -> None:
        self._call = call

    def __call__(self, *args, **kwargs):
        return self._call(*args, **kwargs)

    def __instancecheck__(self, instance) -> bool:
        return isinstance(instance, type)

    def __subclasscheck__(self, subclass) -> bool:
        return issubclass(subclass, type)

    def __mro_entries__(self, bases) -> tuple[type]:
        return (type,)  # `class Meta(type):` subclasses the real type

    def __repr__(self) -> str:
        return "<class 'type'>"
