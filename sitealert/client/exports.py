"""The list in the formats ad platforms and blockers take, split to each platform's list caps.

Pure functions over canonical targets (strings, feed entry mappings or Match objects), shared by
the client (from a replica) and the server's `sitealert export`:

    export_lines(targets, "adblock")              # ["||example.com^", ...]
    stream_lines(sorted_targets, "adblock")       # the same, one line at a time
    split_for_platform(targets, "google-ads")     # PlatformExport with files of <= 65,000 rows

Formats (`FORMATS`):
- ``plain``: one domain per line. Apps are left out (a domain list has no place for them).
- ``adblock``: ``||example.com^`` per domain, the Adblock Plus / uBlock Origin / adblock-rust
  syntax for "this domain and all its subdomains".
- ``hosts``: ``0.0.0.0 example.com`` per domain. A hosts file matches exact names only: it
  cannot express "and every subdomain", so it blocks less than the list means.
- ``csv-placement``: a CSV with one ``Placement`` column, as placement-exclusion uploads take:
  domains as they are, apps as Google Ads API app ids (``2-<package>`` Android, ``1-<id>`` iOS).

Platforms (`PLATFORMS`) carry their per-list cap; `documented` says whether that cap is the
platform's published limit (with `source`) or a configurable default where none is published.
"""

import csv
import io
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from sitealert.matcher import Match

# What an export takes: canonical target strings, feed entry mappings or the matcher's matches.
Listed: TypeAlias = "str | Mapping[str, Any] | Match"

FORMATS = ("plain", "adblock", "hosts", "csv-placement")


def _target_of(item: Listed) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        target: str = item["target"]
        return target
    return item.target  # Match


def _is_app(target: str) -> bool:
    return target.startswith(("android:", "ios:"))


def google_ads_app_id(target: str) -> str:
    """Google Ads API MobileApplicationInfo.app_id: "1-<App Store id>" or "2-<package name>"."""
    platform, _, native = target.partition(":")
    return ("1-" if platform == "ios" else "2-") + native


def store_app_id(target: str) -> str:
    """The store's own id: the Android package name or the numeric App Store id (DV360, TTD)."""
    return target.partition(":")[2]


def _csv_line(*values: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def export_lines(targets: Iterable[Listed], fmt: str, *, header: bool = True) -> list[str]:
    """The lines (without newlines) of targets in format fmt, sorted; header: the CSV header row."""
    _check_format(fmt)
    return list(stream_lines(sorted({_target_of(t) for t in targets}), fmt, header=header))


def stream_lines(names: Iterable[str], fmt: str, *, header: bool = True) -> Iterator[str]:
    """export_lines of canonical targets already sorted and unique (the feed's txt document, a
    replica), one line at a time: what a list of any size needs in memory is the line at hand."""
    _check_format(fmt)
    if fmt == "csv-placement":
        if header:
            yield _csv_line("Placement")
        for name in names:
            yield _csv_line(google_ads_app_id(name) if _is_app(name) else name)
        return
    template = {"plain": "{}", "adblock": "||{}^", "hosts": "0.0.0.0 {}"}[fmt]
    for name in names:
        if not _is_app(name):
            yield template.format(name)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


@dataclass(frozen=True)
class Platform:
    key: str
    title: str
    per_list: int  # entries per list (and per file)
    documented: bool  # per_list is the platform's published cap (else a configurable default)
    lists_per_account: int | None  # published number of such lists per account, if any
    apps: bool  # whether the platform's lists take app ids
    extension: str
    source: str
    notes: str


PLATFORMS = {
    "google-ads": Platform(
        "google-ads", "Google Ads shared placement exclusion list", 65_000, True, 20, True, "csv",
        "https://support.google.com/google-ads/answer/6372658",
        "20 shared placement exclusion lists per account, at most 65,000 exclusions each; "
        "account-level exclusions are a separate pool of 65,000. Apps as Google Ads API app ids.",
    ),
    "microsoft-ads": Platform(
        "microsoft-ads", "Microsoft Advertising website exclusion list", 10_000, True, 3, False, "txt",
        "https://learn.microsoft.com/advertising/guides/negative-sites",
        "A manager account owns at most 3 website exclusion lists of 10,000 sites each, and the web "
        "interface adds at most 5,000 at a time. Websites only: apps are left out.",
    ),
    "dv360": Platform(
        "dv360", "Display & Video 360 channel (blocked)", 50_000, False, 5, True, "csv",
        "https://developers.google.com/display-video/api/guides/concepts/targetable-entities/channels",
        "Channels hold websites and apps (Android package name, numeric App Store id); an advertiser "
        "may block at most 5 channels and own 1,000. No per-channel site cap is published that we "
        "could confirm: the split size is configurable, default 50,000. URLs may have at most five "
        "subdomain levels.",
    ),
    "the-trade-desk": Platform(
        "the-trade-desk", "The Trade Desk site list", 50_000, False, None, True, "csv",
        "https://www.thetradedesk.com/",
        "Site lists take domains and app ids. We found no published per-list cap: the split size is "
        "configurable, default 50,000.",
    ),
}


@dataclass
class ExportFile:
    name: str
    lines: list[str]
    entries: int  # rows of targets (without the header)

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


@dataclass
class PlatformExport:
    platform: Platform
    files: list[ExportFile] = field(default_factory=list)
    skipped_apps: int = 0  # apps the platform's lists cannot hold
    warnings: list[str] = field(default_factory=list)


def _platform_rows(names: list[str], platform: Platform) -> tuple[list[str], int]:
    rows, skipped = [], 0
    for name in names:
        if not _is_app(name):
            rows.append(name)
        elif not platform.apps:
            skipped += 1
        elif platform.key == "google-ads":
            rows.append(google_ads_app_id(name))
        else:
            rows.append(store_app_id(name))
    return rows, skipped


def split_for_platform(targets: Iterable[Listed], platform: str, *, per_list: int | None = None,
                       prefix: str = "sitealert") -> PlatformExport:
    """The list as files that each fit one list of the platform (per_list overrides the cap)."""
    try:
        spec = PLATFORMS[platform]
    except KeyError:
        raise ValueError(f"unknown platform {platform!r}; choose one of {', '.join(PLATFORMS)}") from None
    size = per_list or spec.per_list
    if size < 1:
        raise ValueError("per_list must be at least 1")
    if spec.documented and size > spec.per_list:
        raise ValueError(f"{spec.title}s hold at most {spec.per_list:,} entries")
    names = sorted({_target_of(t) for t in targets})
    rows, skipped = _platform_rows(names, spec)
    result = PlatformExport(spec, skipped_apps=skipped)
    chunks = [rows[i:i + size] for i in range(0, len(rows), size)] or [[]]
    width = max(3, len(str(len(chunks))))
    for number, chunk in enumerate(chunks, 1):
        name = f"{prefix}-{spec.key}-{number:0{width}d}.{spec.extension}"
        if spec.extension == "csv":
            header = "Placement" if spec.key == "google-ads" else "Site"
            lines = [_csv_line(header)] + [_csv_line(r) for r in chunk]
        else:
            lines = list(chunk)
        result.files.append(ExportFile(name, lines, len(chunk)))
    if skipped:
        result.warnings.append(f"{skipped} app target(s) left out: {spec.title}s take websites only")
    if spec.lists_per_account is not None and len(chunks) > spec.lists_per_account:
        result.warnings.append(
            f"{len(chunks)} lists are needed but {spec.title}s are limited to {spec.lists_per_account} "
            f"per account: split the campaigns across accounts, or prefer in-bid screening with the SDK")
    return result


def write_platform_files(targets: Iterable[Listed], platform: str, directory: str | PathLike[str], *,
                         per_list: int | None = None, prefix: str = "sitealert") -> PlatformExport:
    """split_for_platform, written to files in directory (each written whole, then renamed into place)."""
    export = split_for_platform(targets, platform, per_list=per_list, prefix=prefix)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for export_file in export.files:
        path = folder / export_file.name
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(export_file.text(), encoding="utf-8")
        os.replace(temporary, path)
    return export
