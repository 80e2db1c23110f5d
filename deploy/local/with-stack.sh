#!/usr/bin/env bash
# Run a command with the local stack up and the SDK pointed at it:
#   deploy/local/with-stack.sh CMD [ARGS...]
# Starts the stack unless it already runs (then it is reused and left running),
# and stops what it started when CMD ends, however it ends.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stack=$here/stack.sh
started=0
if "$stack" status 2>/dev/null | grep -q 'router: running'; then
  echo "with-stack: the local stack is already running; reusing it (deploy/local/stack.sh down to restart it with fresh builds)" >&2
else
  trap '"$stack" down' EXIT
  started=1
  "$stack" up
fi
eval "$("$stack" env)"
status=0
"$@" || status=$?
exit $status
