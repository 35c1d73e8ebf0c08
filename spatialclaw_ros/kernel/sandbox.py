"""What agent code gets instead of the interpreter's own builtins and OpenCV module."""

from __future__ import annotations

import builtins
import types

from spatialclaw_ros.kernel.audit import SandboxViolation
from spatialclaw_ros.kernel.policy import DENIED_BUILTINS, attribute_allowed, import_from_allowed, module_allowed

_REMOVED_BUILTINS = DENIED_BUILTINS | {
    "__import__", "input", "help", "exit", "quit", "copyright", "credits", "license", "__loader__", "__spec__",
    "getattr", "setattr", "delattr", "hasattr",
}  # fmt: skip

# OpenCV functions without file, camera, network or plugin access.
CV2_FUNCTIONS = (
    "cvtColor resize GaussianBlur medianBlur blur bilateralFilter Canny Sobel Laplacian threshold adaptiveThreshold "
    "inRange bitwise_and bitwise_or bitwise_not bitwise_xor addWeighted add subtract absdiff erode dilate "
    "morphologyEx getStructuringElement findContours drawContours contourArea arcLength approxPolyDP boundingRect "
    "minAreaRect boxPoints minEnclosingCircle fitEllipse fitLine convexHull moments HuMoments pointPolygonTest "
    "connectedComponents connectedComponentsWithStats distanceTransform floodFill rectangle circle line arrowedLine "
    "ellipse polylines fillPoly fillConvexPoly putText getTextSize drawMarker warpAffine warpPerspective "
    "getAffineTransform getPerspectiveTransform getRotationMatrix2D perspectiveTransform transform remap flip rotate "
    "copyMakeBorder equalizeHist calcHist compareHist normalize split merge matchTemplate minMaxLoc meanStdDev mean "
    "countNonZero findNonZero norm magnitude phase cartToPolar polarToCart Rodrigues projectPoints solvePnP "
    "solvePnPRansac undistort undistortPoints initUndistortRectifyMap findHomography findFundamentalMat "
    "findEssentialMat recoverPose decomposeEssentialMat decomposeHomographyMat triangulatePoints "
    "convertPointsToHomogeneous convertPointsFromHomogeneous estimateAffine2D estimateAffinePartial2D "
    "calcOpticalFlowPyrLK calcOpticalFlowFarneback goodFeaturesToTrack cornerHarris HoughLines HoughLinesP "
    "HoughCircles pyrDown pyrUp applyColorMap LUT convertScaleAbs kmeans watershed intersectConvexConvex "
    "rotatedRectangleIntersection hconcat vconcat"
).split()


# Clocks and sleeping; not clock_settime & co.
TIME_FUNCTIONS = (
    "time time_ns perf_counter perf_counter_ns monotonic monotonic_ns process_time sleep strftime strptime gmtime "
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
    """A `cv2` module holding only the pure image-processing functions and the numeric constants."""
    return _facade(cv2, "OpenCV (image processing only; no file, camera or network I/O)", CV2_FUNCTIONS)


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

    def build(self) -> dict:
        namespace = {k: v for k, v in vars(builtins).items() if k not in _REMOVED_BUILTINS}

        def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
            if level or not isinstance(name, str) or not module_allowed(name, private_ok=True):
                raise self._refuse(f"import of {name!r} is not allowed")
            for item in fromlist or ():
                if not isinstance(item, str) or not import_from_allowed(name, item, private_ok=True):
                    raise self._refuse(f"import of '{name}.{item}' is not allowed")
            if name in self._overrides:
                return self._overrides[name]
            return builtins.__import__(name, globals, locals, fromlist, level)

        def getattr_(obj, name, *default):
            return getattr(obj, self._checked_name(name), *default)

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
            __import__=guarded_import, getattr=getattr_, setattr=setattr_, delattr=delattr_, hasattr=hasattr_
        )
        for fn, name in ((getattr_, "getattr"), (setattr_, "setattr"), (delattr_, "delattr"), (hasattr_, "hasattr")):
            fn.__name__ = fn.__qualname__ = name
            fn.__doc__ = getattr(builtins, name).__doc__
        return namespace
