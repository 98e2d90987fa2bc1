"""Build the optional C accelerators (sitealert.matcher, sitealert.feed, sitealert.hosts); the project's metadata lives in pyproject.toml.

`optional=True`: without a working C compiler the builds fail quietly and the pure-Python code
gives the same answers, only slower: the matcher's table (sitealert/matcher/_pure.py), a feed
document's cold build from the database driver's rows (sitealert/feed/copy_out.py) and the
normalizer's fast paths (sitealert/hosts/targets.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("sitealert.matcher._speedups", ["sitealert/matcher/_speedups.c"], optional=True),
        Extension("sitealert.feed._documents", ["sitealert/feed/_documents.c"], optional=True),
        Extension("sitealert.hosts._speedups", ["sitealert/hosts/_speedups.c"], optional=True),
    ],
)
