"""In-memory matcher of canonical targets with the subdomain semantics of SPEC §2. Never imports Django.

    from sitealert.matcher import Matcher
    matcher = Matcher([("example.com", ["FR"], ["streaming-video"]), "android:com.example.app"])
    matcher.check("https://Video.Example.com/watch?v=1")   # Match(target='example.com', ...)
    matcher.check_many(["example.org", "ios:123"])          # [None, None]

`Matcher` uses the optional C accelerator (`_speedups`, built by pip when a compiler is present)
and otherwise a pure-Python table with identical answers; `ACCELERATED` says which one is loaded.
"""

from .core import ACCELERATED, Match, Matcher

__all__ = ["ACCELERATED", "Match", "Matcher"]
