#!/usr/bin/env bash
# Set up what the tests need (once) and run the whole suite: the package's tests on the real
# kernel, then every course notebook under nbval. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh test,lab

# nbval: outputs that depend on the machine are marked in the notebooks; the sanitize file
# masks addresses and pids; a cell that blocks is interrupted after --nbval-cell-timeout.
NBVAL=(--nbval --nbval-current-env --nbval-cell-timeout=60
       --nbval-sanitize-with=notebooks/sanitize.cfg)
if [ $# -gt 0 ]; then
    exec "$PY" -m pytest "$@"
fi
"$PY" -m pytest tests
if compgen -G "notebooks/*.ipynb" >/dev/null; then
    "$PY" -m pytest -p no:cacheprovider "${NBVAL[@]}" notebooks
fi
