#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# contrib/dev-run.sh FERRY_BINARY: start a throw-away Prosody, the sandbox
# WhatsApp networks (tests/fakes/fake_cloudapi.py --sandbox for business
# numbers, tests/fakes/fake_waha.py --sandbox for personal accounts) and
# ferry serving both, all on loopback, and print how to log in: alice owns
# the sandbox business number (registered here), bob is a member of its
# team, carol is free to register a personal account. Ctrl-C stops
# everything.
# Called by `contrib/dev.sh run`, which installs and builds first.
set -euo pipefail

ferry=${1:?usage: dev-run.sh path/to/ferry}
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${FERRY_DEV_DIR:-$top/build/dev-run}
domain=localhost
gateway=whatsapp.localhost
c2s_port=${FERRY_DEV_C2S_PORT:-5222}
comp_port=${FERRY_DEV_COMPONENT_PORT:-5347}
http_port=${FERRY_DEV_HTTP_PORT:-8480}
api_port=${FERRY_DEV_API_PORT:-8481}
waha_port=${FERRY_DEV_WAHA_PORT:-8482}
secret=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
password=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
password2=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
password3=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
waha_key=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
waha_hmac=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')

for p in "$c2s_port" "$comp_port" "$http_port" "$api_port" "$waha_port"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "port $p is in use: stop what uses it, or set FERRY_DEV_*_PORT" >&2
        exit 1
    fi
done

rm -rf "$dir"
# ferry.conf and prosody.cfg.lua hold the component secret: everything
# written below is for this user alone (0600 files, 0700 directories).
umask 077
mkdir -p "$dir/prosody/data" "$dir/prosody/certs"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

cat >"$dir/prosody/prosody.cfg.lua" <<CFG
-- throw-away Prosody for contrib/dev.sh run
run_as_root = true
data_path = "$dir/prosody/data"
pidfile = "$dir/prosody/prosody.pid"
certificates = "$dir/prosody/certs"
log = { { levels = { min = "info" }, to = "file", filename = "$dir/prosody/prosody.log" } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $c2s_port }
component_ports = { $comp_port }
component_interfaces = { "127.0.0.1" }
s2s_ports = { }
modules_enabled = { "disco"; "roster"; "saslauth"; "register"; "ping";
    "version"; "posix"; "offline"; }
modules_disabled = { "s2s"; "s2s_auth_certs"; }
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = true
VirtualHost "$domain"
Component "$gateway"
    component_secret = "$secret"
CFG
prosody -F --config "$dir/prosody/prosody.cfg.lua" >"$dir/prosody/stdout" 2>&1 </dev/null &
pids+=($!)
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$comp_port") 2>/dev/null && break
    sleep 0.1
done
prosodyctl --config "$dir/prosody/prosody.cfg.lua" register alice "$domain" "$password"
prosodyctl --config "$dir/prosody/prosody.cfg.lua" register bob "$domain" "$password2"
prosodyctl --config "$dir/prosody/prosody.cfg.lua" register carol "$domain" "$password3"

/usr/bin/python3 "$top/tests/fakes/fake_cloudapi.py" --sandbox --port "$api_port" \
    --webhook-url "http://127.0.0.1:$http_port/webhook/cloudapi" \
    >"$dir/sandbox.stdout" 2>"$dir/sandbox.log" &
pids+=($!)
for _ in $(seq 100); do grep -q READY "$dir/sandbox.stdout" && break; sleep 0.1; done

/usr/bin/python3 "$top/tests/fakes/fake_waha.py" --sandbox --port "$waha_port" \
    --api-key "$waha_key" >"$dir/waha.stdout" 2>"$dir/waha.log" &
pids+=($!)
for _ in $(seq 100); do grep -q READY "$dir/waha.stdout" && break; sleep 0.1; done

cat >"$dir/ferry.conf" <<CFG
[component]
jid = $gateway
secret = $secret
host = 127.0.0.1
port = $comp_port
[gateway]
name = WhatsApp (sandbox)
allowed_domains = $domain
admins = alice@$domain
[store]
path = $dir/ferry.sqlite
[http]
listen = 127.0.0.1:$http_port
public_url = http://127.0.0.1:$http_port
[network]
backends = cloudapi, waha
[cloudapi]
graph_url = http://127.0.0.1:$api_port
app_secret = sandbox-secret
verify_token = sandbox-verify
[waha]
url = http://127.0.0.1:$waha_port
api_key = $waha_key
webhook_hmac_key = $waha_hmac
[log]
level = info
CFG
"$ferry" -c "$dir/ferry.conf" 2>"$dir/ferry.log" &
pids+=($!)
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$http_port/health" >/dev/null 2>&1 && break
    sleep 0.1
done
# alice registers the sandbox business number and adds bob to its team
if ! /usr/bin/python3 "$top/contrib/dev-team.py" 127.0.0.1 "$c2s_port" \
    "alice@$domain" "$password" "$gateway" 100000000000001 sandbox-token \
    "bob@$domain" 2>"$dir/dev-team.log"; then
    echo "could not set up the team (see $dir/dev-team.log and" \
        "$dir/ferry.log)" >&2
    exit 1
fi

cat <<MSG

ferry is running against a throw-away Prosody and the sandbox networks.

  Log in with any XMPP client (plain connection, no TLS, server 127.0.0.1 port $c2s_port):
      JID       alice@$domain
      password  $password
  alice owns the sandbox business number (Phone number ID 100000000000001,
  access token sandbox-token), registered already with the gateway
  "$gateway". Write to the sandbox contact, who answers every message and
  marks it delivered and read:
      +15550001111@$gateway

  A second login, a member of alice's team for that number:
      JID       bob@$domain
      password  $password2
  bob gets the same contacts (accept their subscription requests) and every
  customer message; what one of them writes is copied to the other. In the
  conversation: /claim, /release, /assign bob, /note <text>, /who,
  /templates, /template hello_world. alice manages the team with "team"
  and "team status" (chat messages to $gateway).

  A personal account: log in as carol@$domain (password $password3),
  register with the network "waha" and leave the phone empty (or send
  "register waha" to $gateway as a chat message). The gateway
  sends you a QR code; the sandbox "scans" it 3 seconds after it is shown
  (at once: curl -s http://127.0.0.1:$waha_port/_control/scan -d '{}').
  Once connected, write to the sandbox contact, who reads, reacts and
  answers "echo: <text>":
      +15550002222@$gateway

  Logs: $dir/ferry.log, $dir/prosody/prosody.log, $dir/sandbox.log,
        $dir/waha.log
  Health: curl http://127.0.0.1:$http_port/health
  Ctrl-C stops everything.
MSG
wait "${pids[3]}"
