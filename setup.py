# Metadata lives in pyproject.toml; this shim keeps `python setup.py develop` style tools working.
from setuptools import setup

setup()
