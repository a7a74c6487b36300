# Sourced by course.sh and test.sh: make .venv (once), install ipclab with the given extras
# (editable, so the notebooks' kernel imports this checkout) at the versions in
# constraints.txt (those the stored outputs were made with), and set $PY.
# Usage: source scripts/venv.sh lab|test,lab
extras="$1"
if [ ! -x .venv/bin/python ]; then
    # Debian and Ubuntu ship venv separately (python3-venv); fall back to virtualenv from PyPI.
    if ! python3 -m venv .venv 2>/dev/null; then
        rm -rf .venv
        echo "python3 -m venv is not available here; using virtualenv from PyPI instead"
        python3 -m pip install --quiet --user virtualenv
        python3 -m virtualenv --quiet .venv
    fi
fi
PY="$PWD/.venv/bin/python"
# What was installed is keyed on the contents of pyproject.toml and constraints.txt and on the
# extras (not on modification times, which a checkout changes): when the key is the one in the
# stamp, pip is not run at all.
stamp=".venv/.ipclab-installed-$extras"
key="$(cat pyproject.toml constraints.txt | cksum) [$extras]"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$key" ]; then
    "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$PY" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[$extras]"
    printf '%s\n' "$key" >"$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
