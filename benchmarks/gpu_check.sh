#!/usr/bin/env bash
# The whole GPU verification in one command, one Markdown summary (see benchmarks/gpu_check.py):
#   benchmarks/gpu_check.sh [--short] [--out DIR]
# On an H100/H200: builds invprob-plugin-cuda (AOT, sm_90), pytest -m gpu, the CUDA-op, loop and
# StyleGAN2 ILO benchmarks and CPU-vs-CUDA runs of three recipes, in under 8 minutes. Without a
# GPU: says so in one line, runs the CUDA plugin's CPU tests, exits 0 when they pass.
# The interpreter: $PYTHON, else .venv/bin/python, else python3; on a machine prepared with
# ../shared/tools/device/prepare.sh whose python3 lacks invprob, .device/setup.sh is sourced first.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
fi
if ! "$python" -c "import invprob" 2>/dev/null && [ -f .device/setup.sh ]; then
  set +eu  # setup.sh is written to be sourced by an interactive shell (its greps may "fail")
  # shellcheck disable=SC1091
  . .device/setup.sh || { echo "gpu_check: .device/setup.sh failed" >&2; exit 2; }
  set -eu
  python=python3
fi
resolved=$(command -v "$python" || echo "$python")
case $resolved in /*) ;; *) resolved="$PWD/$resolved" ;; esac
exec "$resolved" benchmarks/gpu_check.py --python "$resolved" "$@"
