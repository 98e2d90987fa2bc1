"""Compile the gettext catalogs shipped as .po files into .mo files, without GNU gettext."""

import os
from pathlib import Path

import polib

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def catalogs():
    return sorted(PACKAGE_DIR.glob("**/locale/*/LC_MESSAGES/*.po"))


def compile_catalogs(force=False):
    compiled = 0
    for po_path in catalogs():
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        tmp = mo_path.with_suffix(f".mo.{os.getpid()}.tmp")  # parallel test workers compile too
        polib.pofile(str(po_path)).save_as_mofile(str(tmp))
        os.replace(tmp, mo_path)
        compiled += 1
    return compiled
