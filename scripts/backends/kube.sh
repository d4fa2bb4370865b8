#!/usr/bin/env bash
# A real Kubernetes API server for the Kubernetes driver's tests: kube-apiserver and kube-controller-manager
# v1.20.2 with etcd, on loopback, plus kubectl 1.20 to look at the cluster from outside Podium.
# Everything comes from Debian's archive through a private apt configuration and is unpacked/built into the
# cache; nothing is installed system-wide.
#
# usage: scripts/backends/kube.sh install|start|stop|env|kubectl ARGS...
#   install  build kube-apiserver + kube-controller-manager into $PODIUM_CACHE/kube-1.20.2 (skipped when
#            present; ~7.5 min on 2 cores) and unpack etcd and kubectl next to them
#   start    etcd on 127.0.0.1:12379, kube-apiserver on https://127.0.0.1:16443 (client-certificate and
#            token auth, RBAC) and kube-controller-manager (Deployments -> ReplicaSets, namespace deletion, GC)
#   stop     stop the three (controller-manager, API server, then etcd) and remove the state dir
#   env      KEY=VALUE lines for tests: PODIUM_KUBE_URL, PODIUM_KUBE_CA, PODIUM_KUBE_CERT, PODIUM_KUBE_KEY,
#            PODIUM_KUBE_TOKEN, PODIUM_KUBECONFIG, PODIUM_KUBECTL
#   kubectl  run the cached kubectl against the test server (admin identity)
#
# Why 1.20.2: it is the only full Kubernetes source tree in Debian's archive. The source package `kubernetes`
#   1.20.5+really1.20.2 (bookworm) ships the whole upstream tree with its vendor/; newer Debian sources are
#   "+ds" repacks holding only kubectl. Built with bookworm's Go 1.19 in GOPATH mode (go1.19 refuses the
#   1.20 go.mod/vendor in module mode). The vendored reflect2 v1.0.1 crashes with Go >= 1.18, so it is
#   swapped for Debian's 1.0.2. pkg/generated/openapi is generated here with the vendored openapi-gen, as
#   upstream's `make` does. Because 1.20 is old, the tests also validate every rendered object offline
#   against the JSON schemas of current releases (scripts/backends/k8s-schemas.sh).
# Traps of 1.20 handled here or in the driver: a Service port without `protocol` fails server-side apply
#   with 500; the API server must stop before etcd (the other order hangs 30-40 s); the ServiceAccount
#   admission plugin is off (Pods need no `default` ServiceAccount) and `--endpoint-reconciler-type none`
#   (the `kubernetes` Service endpoint would be a loopback address, which validation rejects).
set -euo pipefail

CACHE=${PODIUM_CACHE:-$HOME/.cache/podium}
VERSION=1.20.2
BUILD=$CACHE/kube-$VERSION
BIN=$BUILD/bin
DIR=${PODIUM_BACKENDS_DIR:-/tmp/podium-backends}/kube
PORT=${PODIUM_KUBE_PORT:-16443}
EP=${PODIUM_KUBE_ETCD_PORT:-12379}
NICE=(nice -n 15)

log() { printf '[kube] %s\n' "$*" >&2; }

have_bins() {
  [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/etcd" ] \
    && [ -x "$BIN/kubectl" ]
}

install() {
  have_bins && return 0
  mkdir -p "$CACHE"
  # one build at a time, also across clones sharing the cache
  exec 9>"$BUILD.lock"
  flock 9
  have_bins && return 0
  for tool in apt-get dpkg-deb tar openssl curl flock; do
    command -v "$tool" >/dev/null || { log "$tool is required"; exit 1; }
  done
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || {
    log "needs /usr/share/keyrings/debian-archive-keyring.gpg (a Debian system)"; exit 1; }
  local t0 w mirror
  t0=$(date +%s)
  w=$BUILD/work
  rm -rf "$w"
  mkdir -p "$w"/apt/{lists/partial,cache/archives/partial} "$w/debs" "$w/root" "$w/src"
  # reuse the mirror this machine's apt already uses
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  cat > "$w/apt/sources.list" <<S
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main
S
  local apto=(-o "Dir::Etc::SourceList=$w/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
              -o "Dir::State::Lists=$w/apt/lists" -o "Dir::Cache=$w/apt/cache" -o APT::Sandbox::User=root)
  log "fetching package lists (private apt configuration)"
  "${NICE[@]}" apt-get "${apto[@]}" update -qq
  log "downloading the kubernetes source (bookworm, 34 MB), golang-1.19, reflect2 1.0.2, etcd, kubectl"
  # apt verifies the .dsc/.orig through the signed Sources index
  ( cd "$w/src" && apt-get "${apto[@]}" source --download-only -qq kubernetes/bookworm >/dev/null )
  ( cd "$w/debs" && apt-get "${apto[@]}" download -qq golang-1.19-go/bookworm golang-1.19-src/bookworm \
      golang-github-modern-go-reflect2-dev/bookworm etcd-server/trixie kubernetes-client/bookworm >/dev/null )
  for f in "$w"/debs/*.deb; do "${NICE[@]}" dpkg-deb -x "$f" "$w/root"; done
  # GOPATH layout: the upstream tree at k8s.io/kubernetes (vendor/k8s.io/* link into staging/)
  local k=$w/gopath/src/k8s.io/kubernetes
  mkdir -p "$k"
  "${NICE[@]}" tar xzf "$w"/src/kubernetes_*.orig.tar.gz -C "$k" --strip-components=1
  rm -rf "$k/vendor/github.com/modern-go/reflect2"
  cp -r "$w/root/usr/share/gocode/src/github.com/modern-go/reflect2" "$k/vendor/github.com/modern-go/reflect2"
  rm -f "$k/vendor/github.com/modern-go/reflect2/go.mod"
  (
    export GOROOT=$w/root/usr/lib/go-1.19 GOPATH=$w/gopath GOCACHE=$w/gocache
    export GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0
    export PATH=$GOROOT/bin:$PATH
    cd "$k"
    log "generating pkg/generated/openapi (openapi-gen from vendor/)"
    "${NICE[@]}" go build -o "$w/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
    # the input set of build/root/Makefile.generated_files: every Go dir with a '+k8s:openapi-gen=' tag
    # (staging seen through vendor/), minus code-generator and sample-apiserver
    dirs=$(set +o pipefail; hack/make-rules/helpers/cache_go_dirs.sh "$w/all_go_dirs" \
      | while read -r d; do ls "$d"/*.go 2>/dev/null || true; done \
      | xargs grep -l '^// *+k8s:' 2>/dev/null \
      | grep -v -E '^vendor/k8s.io/(code-generator|sample-apiserver)/' \
      | xargs grep -l '+k8s:openapi-gen=' | xargs -n1 dirname | LC_ALL=C sort -u \
      | sed 's|^|k8s.io/kubernetes/|' | paste -sd,)
    "${NICE[@]}" "$w/openapi-gen" --logtostderr -i "$dirs" -p k8s.io/kubernetes/pkg/generated/openapi \
        -O zz_generated.openapi -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
        -r "$w/violations.report" 2>"$w/openapi-gen.log"
    # version info (otherwise /version says v0.0.0-master)
    v=k8s.io/kubernetes/vendor/k8s.io
    ldf="-s -w"
    for p in component-base/version client-go/pkg/version; do
      ldf+=" -X $v/$p.gitVersion=v$VERSION -X $v/$p.gitMajor=1 -X $v/$p.gitMinor=20 -X $v/$p.gitTreeState=clean"
      ldf+=" -X $v/$p.gitCommit=faecb196815e248d3ecfb03c680a4507229c2a56"
    done
    mkdir -p "$BIN.partial"
    for cmd in kube-apiserver kube-controller-manager; do
      log "building $cmd"
      "${NICE[@]}" go build -ldflags "$ldf" -o "$BIN.partial/$cmd" "./cmd/$cmd"
    done
  )
  cp "$w/root/usr/bin/etcd" "$BIN.partial/etcd"
  cp "$w/root/usr/bin/kubectl" "$BIN.partial/kubectl"
  # the result appears atomically, so a crashed build is redone rather than half-used
  rm -rf "$BIN" && mv "$BIN.partial" "$BIN"
  rm -rf "$w"   # ~1.5 GB of sources and Go cache
  log "built into $BIN in $(( $(date +%s) - t0 ))s"
}

alive() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

ready() {
  [ "$(curl -s --cacert "$DIR/ca.crt" --cert "$DIR/admin.crt" --key "$DIR/admin.key" -o /dev/null \
        -w '%{http_code}' "https://127.0.0.1:$PORT/readyz")" = 200 ]
}

start() {
  if alive apiserver && alive etcd && alive kcm && ready; then
    return 0
  fi
  have_bins || install
  stop
  mkdir -p "$DIR/etcd"
  cd "$DIR"
  # one CA signs the serving certificate (SAN 127.0.0.1, localhost) and the admin client certificate
  # (O=system:masters passes RBAC without a binding); a static token gives the same identity for token auth
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj "/CN=podium-test-ca" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=podium-admin" 2>/dev/null
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 30 \
      -extfile <(printf "extendedKeyUsage=clientAuth\n") 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout serving.key -out serving.csr -subj "/CN=127.0.0.1" 2>/dev/null
  openssl x509 -req -in serving.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out serving.crt -days 30 \
      -extfile <(printf "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n") 2>/dev/null
  openssl genrsa -out sa.key 2048 2>/dev/null && openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  # admin token, plus a user with no permissions of its own (tests bind it to one namespace with RBAC)
  local token
  token=$(openssl rand -hex 16)
  {
    echo "$token,podium-admin,podium-admin-uid,\"system:masters\""
    echo "$(openssl rand -hex 16),podium-restricted,podium-restricted-uid"
  } > tokens.csv
  echo "$token" > admin.token
  cut -d, -f1 tokens.csv | sed -n 2p > restricted.token
  setsid "$BIN/etcd" --data-dir etcd --listen-client-urls "http://127.0.0.1:$EP" \
      --advertise-client-urls "http://127.0.0.1:$EP" \
      --listen-peer-urls "http://127.0.0.1:$((EP+1))" --initial-advertise-peer-urls "http://127.0.0.1:$((EP+1))" \
      --initial-cluster "default=http://127.0.0.1:$((EP+1))" --unsafe-no-fsync --log-level warn \
      > etcd.log 2>&1 < /dev/null &
  echo $! > etcd.pid
  for _ in $(seq 1 200); do curl -s "http://127.0.0.1:$EP/health" | grep -q true && break; sleep 0.05; done
  setsid "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$EP" --bind-address 127.0.0.1 \
      --advertise-address 127.0.0.1 --secure-port "$PORT" --insecure-port 0 --cert-dir "$DIR" \
      --tls-cert-file serving.crt --tls-private-key-file serving.key \
      --client-ca-file ca.crt --token-auth-file tokens.csv --authorization-mode RBAC \
      --service-account-issuer https://kubernetes.default.svc.cluster.local --service-account-key-file sa.pub \
      --service-account-signing-key-file sa.key --service-cluster-ip-range 10.0.0.0/24 \
      --endpoint-reconciler-type none --disable-admission-plugins ServiceAccount \
      > apiserver.log 2>&1 < /dev/null &
  echo $! > apiserver.pid
  local ok=
  for _ in $(seq 1 600); do
    if ready; then ok=1; break; fi
    alive apiserver || break
    sleep 0.1
  done
  if [ -z "$ok" ]; then
    log "kube-apiserver did not become ready; last lines of its log:"
    tail -20 "$DIR/apiserver.log" >&2
    tail -5 "$DIR/etcd.log" >&2
    exit 1
  fi
  cat > admin.kubeconfig <<C
apiVersion: v1
kind: Config
clusters: [{name: podium-test, cluster: {server: "https://127.0.0.1:$PORT", certificate-authority: $DIR/ca.crt}}]
users: [{name: admin, user: {client-certificate: $DIR/admin.crt, client-key: $DIR/admin.key}}]
contexts: [{name: podium-test, context: {cluster: podium-test, user: admin}}]
current-context: podium-test
C
  # only the controllers the tests need; --port 0/--secure-port 0: no listening sockets
  setsid "$BIN/kube-controller-manager" --kubeconfig admin.kubeconfig --leader-elect=false --port 0 \
      --secure-port 0 \
      --controllers deployment,replicaset,statefulset,namespace,garbagecollector,serviceaccount,serviceaccount-token,endpoint,endpointslice \
      --service-account-private-key-file sa.key --root-ca-file ca.crt > kcm.log 2>&1 < /dev/null &
  echo $! > kcm.pid
  log "ready at https://127.0.0.1:$PORT"
}

stop() {
  # the API server stops before etcd: with etcd gone first it spins on reconnects for 30-40 s
  local p
  for p in kcm apiserver etcd; do
    if alive "$p"; then
      kill "$(cat "$DIR/$p.pid")" 2>/dev/null || true
      for _ in $(seq 1 100); do alive "$p" || break; sleep 0.1; done
      if alive "$p"; then kill -9 "$(cat "$DIR/$p.pid")" 2>/dev/null || true; fi
    fi
  done
  rm -rf "$DIR"
}

env_lines() {
  echo "PODIUM_KUBE_URL=https://127.0.0.1:$PORT"
  echo "PODIUM_KUBE_CA=$DIR/ca.crt"
  echo "PODIUM_KUBE_CERT=$DIR/admin.crt"
  echo "PODIUM_KUBE_KEY=$DIR/admin.key"
  echo "PODIUM_KUBE_TOKEN=$DIR/admin.token"
  echo "PODIUM_KUBE_RESTRICTED_TOKEN=$DIR/restricted.token"
  echo "PODIUM_KUBECONFIG=$DIR/admin.kubeconfig"
  echo "PODIUM_KUBECTL=$BIN/kubectl"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  env) env_lines ;;
  kubectl) shift; exec "$BIN/kubectl" --kubeconfig "$DIR/admin.kubeconfig" "$@" ;;
  *) echo "usage: $0 install|start|stop|env|kubectl ARGS..." >&2; exit 2 ;;
esac
