"""Every SITEALERT_* environment variable the code reads, and every setting in settings.SITEALERT, is
documented in docs/configuration.md."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DOC = (ROOT / "docs" / "configuration.md").read_text()

# settings.py: envstr("NAME"), envint("NAME", …), envbool("NAME", …), envlist("NAME")… read SITEALERT_NAME.
HELPER_CALL = re.compile(r"\benv[a-z]+\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")
# os.environ.get("SITEALERT_NAME"), os.environ["SITEALERT_NAME"], os.getenv("SITEALERT_NAME")…
LITERAL = re.compile(r"[\"'](SITEALERT_[A-Z0-9_]*[A-Z0-9])[\"']")


def variables_read_by_the_code():
    found = {}
    for path in sorted((ROOT / "sitealert").rglob("*.py")):
        source = path.read_text()
        names = {"SITEALERT_" + n for n in HELPER_CALL.findall(source)} | set(LITERAL.findall(source))
        for name in names:
            found.setdefault(name, path.relative_to(ROOT))
    return found


def test_the_scan_finds_the_settings():
    found = variables_read_by_the_code()
    assert {"SITEALERT_DATABASE_URL", "SITEALERT_SECRET_KEY", "SITEALERT_BIND", "SITEALERT_PASSWORD"} <= set(found)
    assert {"SITEALERT_MONITOR_RESOLVERS", "SITEALERT_MONITOR_SCHEMES", "SITEALERT_MONITOR_JITTER"} <= set(found)


def test_every_variable_is_documented():
    missing = {name: str(where) for name, where in variables_read_by_the_code().items()
               if f"`{name}`" not in CONFIG_DOC}
    assert not missing, f"not in docs/configuration.md: {missing}"


def test_the_documentation_names_no_variable_the_code_does_not_read():
    documented = set(re.findall(r"`(SITEALERT_[A-Z0-9_]*[A-Z0-9])`", CONFIG_DOC))
    stale = documented - set(variables_read_by_the_code())
    assert not stale, f"docs/configuration.md documents variables nothing reads: {sorted(stale)}"


def test_every_setting_is_read_from_its_documented_variable(settings):
    read = variables_read_by_the_code()
    for name in settings.SITEALERT:
        assert f"SITEALERT_{name}" in read, f"SITEALERT[{name!r}] is not read from SITEALERT_{name}"
        assert f"`SITEALERT_{name}`" in CONFIG_DOC, f"SITEALERT_{name} is not in docs/configuration.md"
