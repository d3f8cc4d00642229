#!/bin/sh
# Refuse to merge a branch while its loop may still be running. Fail-closed:
# it allows the merge (exit 0) only when `loops running` answers 3, "no such
# loop, or not running". Every other answer blocks (exit 1): 0 (it runs), 4
# (cannot tell: status unknown or remote), and every failure to find out,
# e.g. 1 (Deno could not even start the CLI), 5 (the lock stayed held),
# 6 (corrupt registry), 7 (missing permission), 127 (no deno on PATH).
#
# Usage, from anywhere in the workspace (the loop's registry is found from
# the caller's directory, as `loops` does under `deno task`):
#   LOOP_ID=loop-1764508593-a3f2 deno task merge-check
#   LOOP_ID=... sh path/to/examples/merge_check.sh
# MERGE_CHECK_LOCK_TIMEOUT: seconds to wait for a held lock (default 10).
#
# It runs this checkout's own CLI (`deno task loops`), so it needs neither
# JSR nor a network.
set -u
if [ -z "${LOOP_ID:-}" ]; then
  echo "merge-check: LOOP_ID is not set: not merging" >&2
  exit 1
fi
config="$(dirname "$0")/../deno.json"
deno task -q --config "$config" loops \
  --lock-timeout "${MERGE_CHECK_LOCK_TIMEOUT:-10}" running "$LOOP_ID" >/dev/null
code=$?
case $code in
  3)
    echo "merge-check: loop $LOOP_ID is not running: merge allowed"
    exit 0
    ;;
  0) echo "merge-check: loop $LOOP_ID is still running: not merging" >&2 ;;
  *) echo "merge-check: cannot tell whether loop $LOOP_ID is running (loops exited $code): not merging" >&2 ;;
esac
exit 1
