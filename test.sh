#!/usr/bin/env bash
# Set up what the tests need (once) and run the whole suite: the package's tests on the real
# kernel, then every course notebook under nbval. Extra arguments go to pytest.
#   bash test.sh                 everything (what CI runs)
#   bash test.sh --fast          the fast tier for the edit-test loop: no test marked slow,
#                                no notebooks (under a minute on 2 cores)
#   bash test.sh tests/test_pipes.py -x    just that, with pytest's options
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh test,lab,browser,dev
# The tests start many Python processes (helper processes, `python -m ipclab ...`): let
# them read modules compiled once (__pycache__, ignored by git) rather than compile ipclab in
# each; some containers set this, which costs the fast tier several seconds.
unset PYTHONDONTWRITEBYTECODE

# nbval: outputs that depend on the machine are marked in the notebooks; the sanitize file
# masks addresses and pids; a cell that blocks is interrupted after --nbval-cell-timeout.
NBVAL=(--nbval --nbval-current-env --nbval-cell-timeout=60
       --nbval-sanitize-with=notebooks/sanitize.cfg)
# Each test has pytest-timeout's limit; this bounds a whole run that hangs anyway (a test
# that disabled the timer), so that it fails in minutes rather than at CI's limit.
BOUND=(timeout --kill-after=30 2400)
command -v timeout >/dev/null 2>&1 || BOUND=()
if [ "${1:-}" = "--fast" ]; then
    shift
    exec ${BOUND[@]+"${BOUND[@]}"} "$PY" -m pytest -q -m "not slow" tests "$@"
fi
if [ $# -gt 0 ]; then
    exec "$PY" -m pytest "$@"
fi
${BOUND[@]+"${BOUND[@]}"} "$PY" -m pytest tests
# Strict nbval over the instructor's edition (solutions/, with stored outputs); the
# learner's edition in notebooks/ is generated from it (tests/test_release.py: no drift).
if compgen -G "solutions/*.ipynb" >/dev/null; then
    ${BOUND[@]+"${BOUND[@]}"} "$PY" -m pytest -p no:cacheprovider "${NBVAL[@]}" solutions
fi
