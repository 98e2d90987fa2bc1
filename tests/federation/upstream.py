"""An upstream installation's federation documents, built from plain data (tests and benchmarks).

`Upstream` keeps what another installation publishes — its authorities and, per target, their
listings — and answers `authorities()` and `listings(since)` with the documents of the federation
protocol (docs/federation.md), as `sitealert.federation.pull.pull_from` reads them. Every change
bumps the version and remembers which targets it touched, so `listings(since)` answers a delta.
"""

from sitealert.federation.pull import ResyncNeeded, checksum_of

UPSTREAM = "a" * 32


def authority(slug, *, name=None, country="FR", installation=UPSTREAM, procedures=None):
    key = f"{installation}:{slug}"
    return {"key": key, "name": name or slug.title(), "country": country, "website": "https://example.org/",
            "installation": {"id": installation, "name": "Upstream", "url": "https://upstream.test"},
            "url": f"https://upstream.test/procedures/{slug}/",
            "review_url": "https://upstream.test/review-requests/new/?target={target}",
            "procedures": procedures if procedures is not None else {
                "en": {"description": f"{slug} decides", "contact": "c", "criteria": "k", "procedure": "p",
                       "appeal": "a"}}}


class Upstream:
    def __init__(self, *, uid=UPSTREAM, epoch="e1"):
        self.uid, self.epoch, self.version = uid, epoch, 1
        self.authorities_by_key = {}
        self.targets = {}  # target -> {authority key: (category, version)}
        self.touched = {}  # target -> version of its last change
        self.oldest = 0  # deltas since an older version answer 410

    def add_authority(self, data):
        self.authorities_by_key[data["key"]] = data
        return data["key"]

    def list(self, key, target, category="streaming-video"):
        self.version += 1
        self.targets.setdefault(target, {})[key] = (category, self.version)
        self.touched[target] = self.version

    def unlist(self, key, target):
        self.version += 1
        self.targets.get(target, {}).pop(key, None)
        self.touched[target] = self.version

    def authorities(self):
        used = {key for listings in self.targets.values() for key in listings}
        return {"installation": {"id": self.uid, "name": "Upstream", "url": "https://upstream.test"},
                "version": self.version,
                "authorities": [a for key, a in sorted(self.authorities_by_key.items()) if key in used]}

    def listings(self, since):
        if since and since < self.oldest:
            raise ResyncNeeded()
        published = {t for t, listings in self.targets.items() if listings}
        chosen = sorted(t for t in (published if since == 0 else
                                    [t for t, v in self.touched.items() if v > since]))
        return {"installation": self.uid, "since": since, "version": self.version, "epoch": self.epoch,
                "checksum": checksum_of(published), "count": len(published),
                "targets": [{"target": t, "kind": "domain", "listings": [
                    {"authority": key, "category": category, "listed_at": "2026-01-02T03:04:05Z", "version": v}
                    for key, (category, v) in sorted(self.targets.get(t, {}).items())]} for t in chosen],
                "more": False}

    def close(self):
        pass
