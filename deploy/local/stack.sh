#!/usr/bin/env bash
# The local AWS stack for tests and the demo, on loopback:
#   DynamoDB Local (official, from npm amplify-dynamodb-simulator), cognito-local,
#   one AWS Lambda Runtime Interface Emulator per Lambda main under cmd/, and our
#   Lambda router in front of them (the endpoint cognito-local invokes).
#
#   deploy/local/stack.sh install   install what is missing (reused afterwards)
#   deploy/local/stack.sh up        install, start everything, wait until each answers
#   deploy/local/stack.sh env       print the exports that point the SDK at the stack
#   deploy/local/stack.sh down      stop everything started by `up` (by PID)
#   deploy/local/stack.sh status    say what runs
#
# Ports (override with the environment): IDM_DDB_PORT=18000 IDM_COGNITO_PORT=18100
# (what clients use) IDM_COGNITO_LOCAL_PORT=18101 (cognito-local itself)
# IDM_ROUTER_PORT=18300 IDM_RIE_PORT_BASE=18400.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCAL=${IDM_LOCAL_DIR:-$ROOT/.local}
RUN=$LOCAL/run
BIN=$LOCAL/bin
NPM=$LOCAL/npm

DDB_PORT=${IDM_DDB_PORT:-18000}
COGNITO_PORT=${IDM_COGNITO_PORT:-18100}
COGNITO_LOCAL_PORT=${IDM_COGNITO_LOCAL_PORT:-18101}
ROUTER_PORT=${IDM_ROUTER_PORT:-18300}
RIE_PORT_BASE=${IDM_RIE_PORT_BASE:-18400}
REGION=${IDM_REGION:-us-east-1}
MIRROR_TABLE=${MIRROR_TABLE:-idmirror-local}

RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
STATICCHECK_VERSION=v0.8.2
DDB_SIM_VERSION=2.9.30
COGNITO_LOCAL_VERSION=5.3.0

# Lambda functions hosted locally: name = cmd/<name> (cognito-local invokes them by name).
LAMBDA_FUNCTIONS=(postconfirm pretoken)

log() { echo "stack: $*" >&2; }
die() { echo "stack: error: $*" >&2; exit 1; }

install() {
  mkdir -p "$BIN" "$NPM"
  command -v java >/dev/null || die "java not found: install a Java 17 runtime (apt-get install openjdk-17-jre-headless)"
  command -v node >/dev/null || die "node not found: install Node.js 20 and npm"
  local want="{\"name\":\"idmirror-local-emulators\",\"private\":true,\"dependencies\":{\"amplify-dynamodb-simulator\":\"$DDB_SIM_VERSION\",\"cognito-local\":\"$COGNITO_LOCAL_VERSION\"}}"
  if [ ! -f "$NPM/.installed" ] || [ "$(cat "$NPM/.installed")" != "$want" ]; then
    log "installing DynamoDB Local and cognito-local (npm)"
    echo "$want" > "$NPM/package.json"
    (cd "$NPM" && npm install --no-audit --no-fund --loglevel=error >&2)
    [ -f "$NPM/node_modules/amplify-dynamodb-simulator/emulator/DynamoDBLocal.jar" ] || die "DynamoDBLocal.jar missing after npm install"
    echo "$want" > "$NPM/.installed"
  fi
  if [ ! -x "$BIN/aws-lambda-rie" ]; then
    log "installing aws-lambda-rie $RIE_VERSION (go install)"
    GOBIN=$BIN go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
  fi
  if [ ! -x "$BIN/staticcheck" ]; then
    log "installing staticcheck $STATICCHECK_VERSION (go install)"
    GOBIN=$BIN go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
  fi
  command -v curl >/dev/null || { log "installing curl (apt-get)"; apt-get update -qq && apt-get install -y -qq curl >&2; }
}

pidfile() { echo "$RUN/$1.pid"; }
running() { local f; f=$(pidfile "$1"); [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

start() { # name dir cmd...
  local name=$1 dir=$2; shift 2
  (cd "$dir" && exec setsid "$@" >"$RUN/$name.log" 2>&1 </dev/null) &
  echo $! > "$(pidfile "$name")"
}

wait_http() { # name url [expected-substring]
  local name=$1 url=$2 i
  for i in $(seq 1 300); do
    if curl -s -o /dev/null -m 1 "$url"; then return 0; fi
    running "$name" || { tail -20 "$RUN/$name.log" >&2; die "$name exited while starting (log: $RUN/$name.log)"; }
    sleep 0.1
  done
  die "$name did not answer on $url within 30 s (log: $RUN/$name.log)"
}

env_exports() {
  cat <<ENV
export AWS_REGION=$REGION
export AWS_ACCESS_KEY_ID=local
export AWS_SECRET_ACCESS_KEY=local
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DDB_PORT
export AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=http://127.0.0.1:$COGNITO_PORT
export IDMIRROR_LAMBDA_ENDPOINT=http://127.0.0.1:$ROUTER_PORT
# No STS locally: the router answers GetCallerIdentity (restore records its operator).
export AWS_ENDPOINT_URL_STS=http://127.0.0.1:$ROUTER_PORT
export IDMIRROR_COGNITO_LOCAL_ENDPOINT=http://127.0.0.1:$COGNITO_LOCAL_PORT
export MIRROR_TABLE=$MIRROR_TABLE
ENV
}

up() {
  if running router && running dynamodb && running cognito-local; then
    log "already running"; return 0
  fi
  install
  down_quiet
  mkdir -p "$RUN/functions" "$RUN/cognito/.cognito"
  rm -rf "$RUN/cognito/.cognito/db"

  local ddb="$NPM/node_modules/amplify-dynamodb-simulator/emulator"
  start dynamodb "$ddb" java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -sharedDb -port "$DDB_PORT"

  # The Lambda mains, built for this machine, each behind its own RIE.
  local routes=() triggers=() i=0 name
  for name in "${LAMBDA_FUNCTIONS[@]}"; do
    [ -d "$ROOT/cmd/$name" ] || continue
    mkdir -p "$RUN/functions/$name"
    (cd "$ROOT" && CGO_ENABLED=0 go build -tags lambda.norpc -o "$RUN/functions/$name/bootstrap" "./cmd/$name")
    local port=$((RIE_PORT_BASE + 2*i)) api=$((RIE_PORT_BASE + 2*i + 1))
    ( eval "$(env_exports)"; export MIRROR_TABLE
      start "rie-$name" "$RUN/functions/$name" "$BIN/aws-lambda-rie" \
        --runtime-interface-emulator-address "127.0.0.1:$port" --runtime-api-address "127.0.0.1:$api" ./bootstrap )
    routes+=("-fn" "$name=http://127.0.0.1:$port")
    i=$((i+1))
  done
  (cd "$ROOT" && go build -o "$RUN/router" ./deploy/local/router)
  start router "$RUN" ./router -listen "127.0.0.1:$ROUTER_PORT" -cognito "http://127.0.0.1:$COGNITO_LOCAL_PORT" "${routes[@]}"

  [ -d "$ROOT/cmd/postconfirm" ] && triggers+=("\"PostConfirmation\":\"postconfirm\"")
  [ -d "$ROOT/cmd/pretoken" ] && triggers+=("\"PreTokenGeneration\":\"pretoken\"")
  local trig; trig=$(IFS=,; echo "${triggers[*]:-}")
  cat > "$RUN/cognito/.cognito/config.json" <<JSON
{ "LambdaClient": { "endpoint": "http://127.0.0.1:$ROUTER_PORT", "region": "$REGION",
                    "credentials": { "accessKeyId": "local", "secretAccessKey": "local" } },
  "TriggerFunctions": { $trig },
  "UserPoolDefaults": { "UsernameAttributes": [] },
  "TokenConfig": { "IssuerDomain": "http://127.0.0.1:$COGNITO_PORT" } }
JSON
  # cognito-local on its own port; clients reach it at COGNITO_PORT (the fidelity proxy's port,
  # a plain TCP forward until the proxy lands).
  PORT=$COGNITO_LOCAL_PORT HOST=127.0.0.1 start cognito-local "$RUN/cognito" node "$NPM/node_modules/cognito-local/lib/bin/start.js"
  (cd "$ROOT" && go build -o "$RUN/cognito-proxy" ./deploy/local/cognitoproxy)
  start cognito-proxy "$RUN" ./cognito-proxy -listen "127.0.0.1:$COGNITO_PORT" -upstream "http://127.0.0.1:$COGNITO_LOCAL_PORT"

  wait_http dynamodb "http://127.0.0.1:$DDB_PORT"
  wait_http cognito-local "http://127.0.0.1:$COGNITO_LOCAL_PORT"
  wait_http cognito-proxy "http://127.0.0.1:$COGNITO_PORT"
  wait_http router "http://127.0.0.1:$ROUTER_PORT/healthz"
  # The mirror table the hosted Lambdas write to.
  ( eval "$(env_exports)"; cd "$ROOT" && go run ./cmd/idmirror table create --table "$MIRROR_TABLE" --if-not-exists >/dev/null )
  for name in "${LAMBDA_FUNCTIONS[@]}"; do
    [ -d "$ROOT/cmd/$name" ] && ! running "rie-$name" && die "rie-$name exited (log: $RUN/rie-$name.log)"
  done
  log "up: DynamoDB Local :$DDB_PORT, Cognito :$COGNITO_PORT (cognito-local :$COGNITO_LOCAL_PORT), Lambda router :$ROUTER_PORT"
}

stop_one() {
  local name=$1 f pid i
  f=$(pidfile "$name")
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 -- -"$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

down_quiet() {
  [ -d "$RUN" ] || return 0
  local f
  for f in "$RUN"/*.pid; do [ -e "$f" ] && stop_one "$(basename "$f" .pid)"; done
  return 0
}

down() { down_quiet; log "down"; }

status() {
  local f
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || { echo "nothing running"; return 0; }
    local n; n=$(basename "$f" .pid)
    if running "$n"; then echo "$n: running (pid $(cat "$f"))"; else echo "$n: dead"; fi
  done
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  env) env_exports ;;
  status) status ;;
  *) echo "usage: $0 install|up|down|env|status" >&2; exit 2 ;;
esac
