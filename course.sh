#!/usr/bin/env bash
# Set everything up (once) and open the course in JupyterLab. Where no browser can be opened
# (a server, CI, `--no-browser`), run the course's main job instead: every experiment, every
# figure, one report (python -m ipclab report --out report).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh lab

if [ "${1:-}" != "--no-browser" ] && "$PY" -c 'import webbrowser; webbrowser.get()' 2>/dev/null; then
    root=()
    [ "$(id -u)" = 0 ] && root=(--allow-root)  # Jupyter refuses root unless told
    cd notebooks && exec "$PY" -m jupyterlab ${root[@]+"${root[@]}"}
fi
echo "No browser here: running every experiment and writing the figures to ./report instead."
exec "$PY" -m ipclab report --out report
