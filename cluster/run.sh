#!/usr/bin/env bash
# A cluster on one machine (`make run-cluster`): WEB web processes behind HAProxy with sticky sessions, MEDIA
# media workers and SIM simulator workers, all on one PostgreSQL database and one Redis server. Ctrl-C stops
# everything.
#   KEFU_CLUSTER_WEB (3), KEFU_CLUSTER_MEDIA (2), KEFU_CLUSTER_SIM (2), KEFU_PORT (5000: the proxy; web processes
#   on the next ports),
#   DATABASE_URL (postgresql://postgres@127.0.0.1:5432/kefu), REDIS_URL (redis://127.0.0.1:6379/0).
set -euo pipefail
cd "$(dirname "$0")/.."
WEB=${KEFU_CLUSTER_WEB:-3}
MEDIA=${KEFU_CLUSTER_MEDIA:-2}
SIM=${KEFU_CLUSTER_SIM:-2}
PORT=${KEFU_PORT:-5000}
HOST=${KEFU_HOST:-127.0.0.1}
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/kefu}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export SOCKETIO_MESSAGE_QUEUE=${SOCKETIO_MESSAGE_QUEUE:-$REDIS_URL}
export KEFU_MEDIA_TRANSPORT=redis
RUN=instance/cluster
mkdir -p "$RUN"
PY=.venv/bin/python
FLASK=".venv/bin/flask --app app"
# Every process must sign sessions with the same key: made once, kept in the instance folder.
if [ -z "${SECRET_KEY:-}" ]; then
  [ -s instance/secret_key ] || $PY -c "import secrets; print(secrets.token_hex(32))" > instance/secret_key
  export SECRET_KEY=$(cat instance/secret_key)
fi
$FLASK db upgrade
$FLASK demo seed

pids=()
stop() { trap - INT TERM EXIT; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait; }
trap stop INT TERM EXIT

for i in $(seq 1 "$MEDIA"); do
  $FLASK media worker --id "$(hostname)-media-$i" > "$RUN/media-$i.log" 2>&1 &
  pids+=($!)
done
# Simulated customers are handed to these by the web processes (simulator/workers.py); 0 keeps them in the web
# processes.
for i in $(seq 1 "$SIM"); do
  $FLASK simulator worker > "$RUN/sim-$i.log" 2>&1 &
  pids+=($!)
done
servers=""
for i in $(seq 1 "$WEB"); do
  port=$((PORT + i))
  # One process takes the SMTP endpoint's port; the others' endpoints take free ports.
  smtp=$([ "$i" = 1 ] && echo "${KEFU_SMTP_PORT:-2525}" || echo 0)
  KEFU_HOST=127.0.0.1 KEFU_PORT=$port KEFU_SMTP_PORT=$smtp $PY app.py > "$RUN/web-$i.log" 2>&1 &
  pids+=($!)
  servers+="    server web$i 127.0.0.1:$port check cookie web$i"$'\n'
done
sed -e "s|@BIND@|$HOST:$PORT|" -e "/@SERVERS@/{
r /dev/stdin
d
}" cluster/haproxy.cfg.in > "$RUN/haproxy.cfg" <<< "$servers"
haproxy -c -f "$RUN/haproxy.cfg" >/dev/null
haproxy -db -f "$RUN/haproxy.cfg" > "$RUN/haproxy.log" 2>&1 &
pids+=($!)
echo "cluster: $WEB web processes, $MEDIA media workers, $SIM simulator workers behind http://$HOST:$PORT (logs in $RUN/; Ctrl-C stops)"
wait -n
echo "a process of the cluster stopped (see $RUN/*.log); stopping the others" >&2
