#!/usr/bin/env bash
# The fidelity gate: run Stream's Python SDK video suites against a fresh emulator.
#
#   tools/stream_py/run_stream_py_suites.sh STREAM_PY_CHECKOUT [PYTHON] [OUT_DIR]
#
# STREAM_PY_CHECKOUT  a checkout of GetStream/stream-py (its tests/ folder is used as it is)
# PYTHON              a Python with that checkout's SDK and its test tools installed
#                     (pytest, pytest-asyncio, pytest-timeout, python-dotenv, opentelemetry-sdk);
#                     default: python3. Keep it apart from stagecfg's own environment.
# OUT_DIR             where each file's report goes (default: a new temporary folder)
#
# stagecfg must be on PATH (or set STAGECFG=/path/to/stagecfg). The emulator listens on a free
# port of 127.0.0.1 with a new sandbox file, and is stopped when the script ends. Nothing here
# touches the network: the SDK is pointed at the emulator by stream_py_base_url.py beside this
# script, since the SDK's constructor does not read STREAM_BASE_URL by itself.
set -euo pipefail

checkout=$(cd "${1:?usage: $0 STREAM_PY_CHECKOUT [PYTHON] [OUT_DIR]}" && pwd)
python=${2:-python3}
out=${3:-$(mktemp -d)}
stagecfg=${STAGECFG:-stagecfg}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
mkdir -p "$out"

export STREAM_API_KEY=fidelity-key
export STREAM_API_SECRET=fidelity-secret-not-for-production
# Tests that need a real OpenAI key skip without one; never hand them one here.
unset OPENAI_API_KEY GITHUB_ACTIONS

"$stagecfg" emulator --port 0 --sandbox "$work/sandbox.db" >"$work/emulator.log" 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true; wait "$emulator" 2>/dev/null || true; rm -rf "$work"' EXIT

# The emulator prints its URL when it listens; wait for it at most 30 s.
url=""
for _ in $(seq 300); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/emulator.log" | head -n1 || true)
  [ -n "$url" ] && break
  kill -0 "$emulator" 2>/dev/null || { cat "$work/emulator.log" >&2; exit 2; }
  sleep 0.1
done
[ -n "$url" ] || { echo "the emulator did not start in 30 s" >&2; exit 2; }
export STREAM_BASE_URL=$url
echo "emulator at $url; reports in $out"

status=0
for suite in test_video_integration test_video_examples; do
  (cd "$checkout" && PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" timeout 600 \
     "$python" -m pytest -p stream_py_base_url -p no:cacheprovider -q -rA "tests/$suite.py") \
     >"$out/$suite.txt" 2>&1 || status=1
  echo "$suite: $(tail -n1 "$out/$suite.txt")"
done
exit "$status"
