#!/usr/bin/env bash
# A real Kubernetes API server for the Kubernetes driver's apply tests:
# k8s.io/apiextensions-apiserver (the generic apiserver machinery; serves CRDs and custom resources, not the
# core/apps kinds) with etcd, both built/unpacked from Debian packages. Nothing is installed system-wide:
# packages come through a private apt configuration and are unpacked into the cache.
#
# usage: scripts/backends/kube.sh install|start|stop|env
#   install  build apiextensions-apiserver + etcd into $PODIUM_CACHE/kube-apiext (skipped when present, ~3-4 min)
#   start    etcd on 127.0.0.1:12379 and the API server on https://127.0.0.1:16443 (client-cert auth)
#   stop     stop both and remove the state dir
#   env      KEY=VALUE lines for tests (PODIUM_KUBE_URL, PODIUM_KUBE_CA, PODIUM_KUBE_CERT, PODIUM_KUBE_KEY)
set -euo pipefail

CACHE=${PODIUM_CACHE:-$HOME/.cache/podium}
BUILD=$CACHE/kube-apiext
BIN=$BUILD/bin
DIR=${PODIUM_BACKENDS_DIR:-/tmp/podium-backends}/kube
PORT=16443
EP=12379

log() { printf '[kube] %s\n' "$*" >&2; }

# Sources of the pinned Go packages: Debian unstable ships the k8s.io sources as golang-*-dev packages,
# testing ships etcd 3.5.
install() {
  if [ -x "$BIN/apiextensions-apiserver" ] && [ -x "$BIN/etcd" ]; then
    return 0
  fi
  for tool in apt-get apt-cache dpkg-deb openssl curl; do
    command -v "$tool" >/dev/null || { log "$tool is required"; exit 1; }
  done
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || {
    log "needs /usr/share/keyrings/debian-archive-keyring.gpg (a Debian system)"; exit 1; }
  local w=$BUILD/work
  mkdir -p "$w"/apt/{lists/partial,cache/archives/partial} "$w/debs" "$w/root"
  # reuse the mirror this machine's apt already uses
  local mirror
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  cat > "$w/apt/sources.list" <<S
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main
S
  local apto=(-o "Dir::Etc::SourceList=$w/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$w/apt/lists" -o "Dir::Cache=$w/apt/cache")
  log "fetching package lists (private apt configuration)"
  apt-get "${apto[@]}" update -qq
  local pkgs go
  pkgs=$(apt-cache "${apto[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
           --no-replaces --no-enhances golang-k8s-apiextensions-apiserver-dev \
         | grep -E '^golang-' | grep -v -E '^golang-(1\.|go$|src$|doc)' | sort -u)
  go=$(apt-cache "${apto[@]}" search --names-only '^golang-1\.[0-9]+-go$' | awk '{print $1}' | sort -V | tail -1)
  log "downloading $(echo "$pkgs" | wc -w) Go source packages, $go and etcd"
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  ( cd "$w/debs" && apt-get "${apto[@]}" download $pkgs "$go" "${go%-go}-src" etcd-server/trixie >/dev/null )
  for f in "$w"/debs/*.deb; do dpkg-deb -x "$f" "$w/root"; done
  local goroot
  goroot=$(ls -d "$w"/root/usr/lib/go-1.* | sort -V | tail -1)
  mkdir -p "$w/gopath" && ln -sfn "$w/root/usr/share/gocode/src" "$w/gopath/src"
  log "building apiextensions-apiserver (a few minutes)"
  mkdir -p "$BIN.partial"
  GOROOT="$goroot" GOPATH="$w/gopath" GOCACHE="$w/gocache" GO111MODULE=off GOTOOLCHAIN=local CGO_ENABLED=0 \
    "$goroot/bin/go" build -o "$BIN.partial/apiextensions-apiserver" k8s.io/apiextensions-apiserver
  cp "$w/root/usr/bin/etcd" "$BIN.partial/etcd"
  # the result appears atomically, so a crashed build is redone rather than half-used
  rm -rf "$BIN" && mv "$BIN.partial" "$BIN"
  # sources and Go cache are large and no longer needed
  rm -rf "$w"
  log "built into $BIN"
}

ready() {
  [ "$(curl -sk --cert "$DIR/admin.crt" --key "$DIR/admin.key" -o /dev/null -w '%{http_code}' \
        "https://127.0.0.1:$PORT/apis/apiextensions.k8s.io/v1/customresourcedefinitions")" = 200 ]
}

alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

start() {
  if alive apiext && alive etcd && ready; then
    return 0
  fi
  [ -x "$BIN/apiextensions-apiserver" ] || install
  stop
  mkdir -p "$DIR/etcd" "$DIR/certs"
  cd "$DIR"
  # client-cert auth: a cert with O=system:masters passes authz without any SubjectAccessReview webhook
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj "/CN=podium-test-ca" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=podium-admin" 2>/dev/null
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 30 \
      -extfile <(printf "extendedKeyUsage=clientAuth\n") 2>/dev/null
  # the serving certificate is signed by the same CA (the server's self-signed default would be issued for
  # "localhost" by a throwaway CA we cannot name); SAN 127.0.0.1 and localhost
  openssl req -newkey rsa:2048 -nodes -keyout certs/serving.key -out serving.csr -subj "/CN=127.0.0.1" 2>/dev/null
  openssl x509 -req -in serving.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out certs/serving.crt -days 30 \
      -extfile <(printf "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n") 2>/dev/null
  # the standalone server insists on kubeconfigs for a 'core' cluster; point them at a dead port
  cat > dummy.kubeconfig <<K
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: none, user: {token: unused}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
K
  setsid "$BIN/etcd" --data-dir etcd --listen-client-urls "http://127.0.0.1:$EP" \
      --advertise-client-urls "http://127.0.0.1:$EP" \
      --listen-peer-urls "http://127.0.0.1:$((EP+1))" --initial-advertise-peer-urls "http://127.0.0.1:$((EP+1))" \
      --initial-cluster "default=http://127.0.0.1:$((EP+1))" --unsafe-no-fsync --log-level warn \
      > etcd.log 2>&1 < /dev/null &
  echo $! > etcd.pid
  for _ in $(seq 1 200); do curl -s "http://127.0.0.1:$EP/health" | grep -q true && break; sleep 0.05; done
  # admission plugins that wait for Namespaces (which this server does not serve) must be off, or every write
  # gets 403 "not yet ready"
  setsid "$BIN/apiextensions-apiserver" --etcd-servers "http://127.0.0.1:$EP" --bind-address 127.0.0.1 \
      --secure-port "$PORT" --cert-dir certs \
      --tls-cert-file certs/serving.crt --tls-private-key-file certs/serving.key \
      --client-ca-file ca.crt --kubeconfig dummy.kubeconfig --authentication-kubeconfig dummy.kubeconfig \
      --authorization-kubeconfig dummy.kubeconfig --authentication-skip-lookup --enable-priority-and-fairness=false \
      --disable-admission-plugins NamespaceLifecycle,MutatingAdmissionPolicy,MutatingAdmissionWebhook,ValidatingAdmissionPolicy,ValidatingAdmissionWebhook \
      > apiext.log 2>&1 < /dev/null &
  echo $! > apiext.pid
  for _ in $(seq 1 600); do
    if ready; then
      log "ready at https://127.0.0.1:$PORT"
      return 0
    fi
    alive apiext || break
    sleep 0.1
  done
  log "the API server did not become ready; last lines of its log:"
  tail -20 "$DIR/apiext.log" >&2
  tail -5 "$DIR/etcd.log" >&2
  exit 1
}

stop() {
  for p in apiext etcd; do
    if [ -f "$DIR/$p.pid" ]; then kill "$(cat "$DIR/$p.pid")" 2>/dev/null || true; fi
  done
  for p in apiext etcd; do
    for _ in $(seq 1 100); do alive "$p" || break; sleep 0.05; done
  done
  rm -rf "$DIR"
}

env_lines() {
  echo "PODIUM_KUBE_URL=https://127.0.0.1:$PORT"
  echo "PODIUM_KUBE_CA=$DIR/ca.crt"
  echo "PODIUM_KUBE_CERT=$DIR/admin.crt"
  echo "PODIUM_KUBE_KEY=$DIR/admin.key"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  env) env_lines ;;
  *) echo "usage: $0 install|start|stop|env" >&2; exit 2 ;;
esac
