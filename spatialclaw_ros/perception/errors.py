"""The one error type perception raises for bad input or a failed backend.

It subclasses ValueError so callers that already treat bad arguments as ValueError keep working;
the kernel reports it as a perception error with the message unchanged.
"""


class PerceptionError(ValueError):
    """Bad input to a perception call, or a backend that could not produce a result."""
