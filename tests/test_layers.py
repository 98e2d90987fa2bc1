"""Imports point one way: each package of sitealert imports only from the layers below its own.

The order is written once, in LAYERS, and docs/architecture.md shows the same order. An import
inside a function is allowed only where ALLOWED_LOCAL_IMPORTS says why; every other import sits at
the top of its module, where a reader sees what the module depends on.
"""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "sitealert"

# Bottom first. Packages on one layer are siblings: neither imports the other.
LAYERS = [
    ("hosts",),
    ("matcher",),
    ("client",),
    ("core",),
    ("organizations",),
    ("feed",),
    ("listings",),
    ("monitoring",),
    ("reviews",),
    ("procedures", "check", "statistics", "operations"),
    ("federation",),
    ("distribution",),
    ("api", "front", "demo"),
    ("cli",),
    ("settings", "urls", "wsgi", "__main__", "formats"),
]
LAYER_OF = {name: index for index, names in enumerate(LAYERS) for name in names}

# (module path, imported module) -> why the import waits until the function runs.
ALLOWED_LOCAL_IMPORTS = {
    ("cli/server_commands.py", "django"): "`sitealert --help` and the client commands load no Django",
    ("cli/server_commands.py", "sitealert.core.conf"): "read only once Django's settings are configured",
    ("cli/server_commands.py", "sitealert.cli"): "the server commands' bodies import Django models at their top",
    ("core/metrics.py", "prometheus_client"): "`sitealert serve` sets the multiprocess directory before it loads",
    ("cli/client_commands.py", "prometheus_client"): "`sitealert serve` sets up its multiprocess mode before "
                                                     "the library first loads",
    ("client/__init__.py", "importlib.metadata"): "the version is read only when someone asks for it",
    ("client/replica.py", "sitealert.client.sync"): "sync builds on Replica; a replica that never syncs never loads it",
    ("client/replica.py", "sitealert.client.mirror"): "tuf and urllib3 load with the mirror sync, only when one runs",
    ("client/mirror.py", "sitealert.client"): "the package imports the replica that loads this module: its version "
                                              "is read at run time",
    ("distribution/s3.py", "boto3"): "boto3 is the optional `s3` extra: loaded only when an upload runs",
    ("distribution/s3.py", "botocore.config"): "boto3 is the optional `s3` extra: loaded only when an upload runs",
    ("client/store.py", "fcntl"): "POSIX only: a replica opened read-only on any platform needs no lock",
    ("client/sync.py", "httpx"): "the SDK imports no network library until a sync runs",
    ("client/private.py", "sitealert.client.mirror"): "it loads tuf and urllib3: only when a mirror is read",
    ("client/private.py", "tuf.ngclient"): "the SDK imports no network library until a mirror is read",
    ("client/sync.py", "sitealert.client"): "the package imports this module: its version is read at run time",
    ("federation/pull.py", "sitealert.client.mirror"): "tuf and urllib3 load only when a mirror source is pulled",
    ("federation/sources.py", "tuf.api.metadata"): "tuf loads only when a mirror source is added",
    ("federation/sources.py", "tuf.api.exceptions"): "tuf loads only when a mirror source is added",
    ("federation/sources.py", "prometheus_client.core"): "`sitealert serve` sets the multiprocess directory before "
                                                         "the library first loads (core/metrics.py)",
    ("federation/pull.py", "sitealert.federation"): "plainlist.py is written alongside this module (issue 16): "
                                                    "loaded when a plain-list source is pulled",
    ("cli/source_handlers.py", "sitealert.federation"): "plainlist.py is written alongside (issue 16): loaded "
                                                        "when a held run is confirmed",
}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if "migrations" not in relative.parts:
            yield relative, ast.parse(path.read_text(), filename=str(path))


def package_of(relative):
    first = relative.parts[0]
    return first[:-3] if first.endswith(".py") else first


def imported(node, relative):
    """The absolute names an import statement brings in."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = ".".join(("sitealert", *relative.parts[:-1][: len(relative.parts) - node.level]))
        return [f"{base}.{node.module}" if node.module else base]
    return [node.module or ""]


def imports_by_scope(tree):
    """(import node, name of the enclosing function or None) for every import in a module."""
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, function))
            scope = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            visit(child, scope)

    visit(tree, None)
    return found


def test_every_package_has_a_layer():
    packages = {package_of(relative) for relative, _tree in modules()} - {"__init__"}
    assert packages - set(LAYER_OF) == set(), "add the new package to LAYERS and to docs/architecture.md"


def test_imports_point_down_the_layers():
    upward = []
    for relative, tree in modules():
        source = package_of(relative)
        if source == "__init__":
            continue
        for node, _function in imports_by_scope(tree):
            for name in imported(node, relative):
                parts = name.split(".")
                if parts[0] != "sitealert" or len(parts) < 2 or parts[1] == source:
                    continue
                target = parts[1]
                if LAYER_OF[target] >= LAYER_OF[source]:
                    upward.append(f"sitealert/{relative}:{node.lineno} ({source}) imports {name} ({target})")
    assert not upward, "imports against the layer order of docs/architecture.md:\n" + "\n".join(upward)


def test_imports_sit_at_the_top_of_their_modules():
    hidden = []
    for relative, tree in modules():
        for node, function in imports_by_scope(tree):
            if function is None or function == "ready":  # AppConfig.ready: models load only then
                continue
            for name in imported(node, relative):
                if (str(relative), name) not in ALLOWED_LOCAL_IMPORTS:
                    hidden.append(f"sitealert/{relative}:{node.lineno} imports {name} inside {function}()")
    assert not hidden, "move these imports to the top of the module, or say why not in " \
                       "ALLOWED_LOCAL_IMPORTS:\n" + "\n".join(hidden)


def test_every_allowed_local_import_still_exists():
    seen = {(str(relative), name) for relative, tree in modules()
            for node, function in imports_by_scope(tree) if function
            for name in imported(node, relative)}
    assert set(ALLOWED_LOCAL_IMPORTS) - seen == set()


def test_the_architecture_document_shows_the_same_order():
    text = (REPO / "docs" / "architecture.md").read_text()
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"^\| \d+ \|", line)]
    documented = [tuple(re.findall(r"`sitealert\.(\w+)`", row.split("|")[2])) for row in rows]
    assert documented == LAYERS[-2::-1], "docs/architecture.md's layer table, top first, must match LAYERS"


def test_the_installed_apps_follow_the_layers():
    from django.conf import settings

    ours = [app.split(".")[1] for app in settings.INSTALLED_APPS if app.startswith("sitealert.")]
    assert [LAYER_OF[app] for app in ours] == sorted(LAYER_OF[app] for app in ours)


def test_no_module_is_named_after_nothing():
    """A module named `utils` or `helpers` is a smell: names say what a module is for."""
    vague = [str(relative) for relative, _tree in modules()
             if relative.stem in ("utils", "util", "helpers", "misc", "common")]
    assert vague == []
