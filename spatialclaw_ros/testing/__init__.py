"""Test doubles for this project's tests and benchmarks, and for users testing their own set-ups:
the scripted OpenAI-compatible VLM server (the only test double, since no VLM runs in CI). The
library itself never imports this package."""
