"""Build the optional C accelerator of sitealert.matcher; the project's metadata lives in pyproject.toml.

`optional=True`: without a working C compiler the build of _speedups fails quietly and the
pure-Python table (sitealert/matcher/_pure.py) gives the same answers, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("sitealert.matcher._speedups", ["sitealert/matcher/_speedups.c"], optional=True),
    ],
)
