# Sourced by scripts/demo and scripts/test from the repository root.
#
# ensure_venv [EXTRAS]: create .venv if it is missing or broken, and install the project
# (`pip install -e .[EXTRAS]`, versions pinned in pyproject.toml) unless a stamp inside .venv
# says these very build inputs were already installed with those extras.
# The stamp holds one line "<sha256 of pyproject.toml, setup.py, the C source> <extras or ->" per install.

ensure_venv() {
    local extras=${1:-} python=${PYTHON:-python3} stamp=.venv/.sitealert-installed hash spec=.
    [ -n "$extras" ] && spec=".[$extras]"
    # The build inputs: pinned dependencies and the optional C accelerator that pip compiles.
    hash=$(cat pyproject.toml setup.py sitealert/matcher/_speedups.c sitealert/feed/_documents.c sitealert/hosts/_speedups.c 2>/dev/null | sha256sum | cut -d' ' -f1)

    if [ -e .venv ] && ! .venv/bin/python -c '' 2>/dev/null; then
        echo "Recreating .venv: its Python no longer runs." >&2
        rm -rf .venv
    fi
    if [ ! -e .venv ]; then
        if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "SiteAlert needs Python 3.11 or newer as '$python' (set PYTHON=/path/to/python3.11)." >&2
            return 1
        fi
        echo "Creating .venv with $("$python" --version 2>&1)..." >&2
        # Debian's python3 lacks ensurepip unless python3-venv is installed: then make the venv
        # without pip and let the system pip install pip into it.
        if ! "$python" -m venv .venv 2>/dev/null; then
            rm -rf .venv
            "$python" -m venv --without-pip .venv
            "$python" -m pip --python .venv/bin/python install --quiet --disable-pip-version-check pip
        fi
    fi

    # A plain install is satisfied by any install of the same pyproject.toml; extras must match.
    if [ -f "$stamp" ]; then
        if [ -z "$extras" ] && grep -q "^$hash " "$stamp"; then return 0; fi
        if [ -n "$extras" ] && grep -qx "$hash $extras" "$stamp"; then return 0; fi
    fi
    echo "Installing SiteAlert ($spec) and its pinned dependencies into .venv..." >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
    { grep "^$hash " "$stamp" 2>/dev/null || true; echo "$hash ${extras:--}"; } > "$stamp.new"
    mv "$stamp.new" "$stamp"
}
