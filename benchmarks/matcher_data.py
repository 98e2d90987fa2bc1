"""Synthetic listed targets and queries for benchmarks/bench_matcher.py (deterministic for a seed).

Targets look like piracy domains: words and digits under a weighted mix of TLDs (including
multi-label public suffixes such as co.uk and com.br), 15% of them subdomain targets
(video.name.tld). Queries: half listed (a target with 0-3 extra labels in front), half not listed
(other names under the same TLDs, 0-3 extra labels, none covered by a target).
"""

import random

TLDS = [("com", 40), ("net", 8), ("org", 6), ("ru", 5), ("xyz", 4), ("info", 3), ("de", 3), ("co.uk", 3),
        ("to", 3), ("top", 3), ("com.br", 2), ("io", 2), ("cc", 2), ("me", 2), ("tv", 2), ("site", 2),
        ("online", 2), ("fr", 2), ("it", 2), ("club", 1), ("se", 1), ("is", 1), ("ws", 1), ("lol", 1), ("es", 1)]
WORDS = ["film", "movie", "stream", "watch", "hd", "free", "tube", "flix", "top", "best", "live", "sport", "tv",
         "play", "torrent", "pirate", "bay", "zone", "hub", "max", "go", "online", "now", "full", "cine", "serie",
         "anime", "manga", "music", "mp3", "dl", "load", "share", "file", "box", "cloud", "up", "kino", "series"]
SUBDOMAINS = ["video", "stream", "m", "www2", "cdn", "en", "player", "watch", "embed", "dl"]
EXTRA_LABELS = ["www", "m", "cdn", "video", "img", "static", "a1", "en", "s3", "edge", "media", "api"]


def _name(rnd):
    words = [rnd.choice(WORDS) for _ in range(rnd.randint(1, 3))]
    name = ("-" if rnd.random() < 0.085 else "").join(words)  # 8.5% hyphenated, as in the real lists
    if rnd.random() < 0.5:
        name += str(rnd.randint(1, 99999))
    return name


def _tld(rnd, tlds, weights):
    return rnd.choices(tlds, weights)[0]


def listed_targets(n, seed=1):
    rnd = random.Random(seed)
    tlds, weights = zip(*TLDS)
    targets = set()
    while len(targets) < n:
        name = f"{_name(rnd)}.{_tld(rnd, tlds, weights)}"
        if rnd.random() < 0.15:
            name = f"{rnd.choice(SUBDOMAINS)}.{name}"
        targets.add(name)
    targets = sorted(targets)
    rnd.shuffle(targets)
    return targets


def _extra(rnd):
    return [rnd.choice(EXTRA_LABELS) if rnd.random() < 0.7 else _name(rnd) for _ in range(rnd.randint(0, 3))]


def _covered(host, listed):
    while True:
        if host in listed:
            return True
        dot = host.find(".")
        if dot < 0:
            return False
        host = host[dot + 1:]


def queries(targets, n, seed=2):
    """n hosts: half listed (with 0-3 extra labels), half not, shuffled."""
    rnd = random.Random(seed)
    listed = set(targets)
    tlds, weights = zip(*TLDS)
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(".".join(_extra(rnd) + [rnd.choice(targets)]))
        else:
            while True:
                host = ".".join(_extra(rnd) + [f"{_name(rnd)}x.{_tld(rnd, tlds, weights)}"])
                if not _covered(host, listed):
                    break
            out.append(host)
    rnd.shuffle(out)
    return out


def urls(hosts, seed=3):
    """Raw URLs as bid requests carry them (site.page, site.ref): schemes, ports, paths, queries."""
    rnd = random.Random(seed)
    shapes = ["https://{h}/", "https://{h}/watch?v={i}", "http://{h}/{i}/index.html", "https://{h}:8443/embed/{i}",
              "https://{h}/search?q=film&page={i}#top"]
    return [rnd.choice(shapes).format(h=h, i=i) for i, h in enumerate(hosts)]


def messy(hosts, seed=4):
    """The same hosts as people type them: upper case, trailing dots, blanks, Unicode names."""
    rnd = random.Random(seed)
    forms = [str.upper, lambda h: h + ".", lambda h: f"  {h} ", lambda h: "bücher." + h,
             lambda h: "HTTPS://" + h.upper() + "/Path"]
    return [rnd.choice(forms)(h) for h in hosts]
