# shellcheck shell=bash
# Building the image, deploying the hub from deploy/ and registering members.
# Sourced by e2e/kind.sh after lib/common.sh and lib/clusters.sh; uses ROOT and
# WORK from the caller.

IMAGE=${IMAGE:-mesh-federation:e2e}
HUB=${HUB:-hub}
HUB_NS=mesh-federation

hubctl() { kubectl --context "$(ctx "$HUB")" -n "$HUB_NS" "$@"; }

build_image() {
  log "building image $IMAGE"
  docker build -f "$ROOT/Containerfile" -t "$IMAGE" "$ROOT"
}

# load_image NAME... — kind nodes cannot pull a local image; copy it in.
load_image() {
  local name
  for name in "$@"; do
    log "loading $IMAGE into $name"
    kind load docker-image "$IMAGE" --name "$name"
  done
}

# make_hub_secrets — the three Secrets deploy/hub references, made fresh:
# a 32-byte key-encryption key, a self-signed serving certificate for the
# admin/onboarding APIs, and the admin token.
make_hub_secrets() {
  local dir="$WORK/hub-secrets"
  mkdir -p "$dir"
  log "creating the hub's secrets"
  openssl rand -base64 32 >"$dir/kek"
  openssl rand -hex 32 >"$dir/token"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=mesh-federation" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:mesh-federation-admin,DNS:mesh-federation-admin.$HUB_NS.svc,DNS:mesh-federation-onboarding.$HUB_NS.svc" \
    -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
  hubctl create secret generic mesh-federation-kek --from-file=kek="$dir/kek"
  hubctl create secret tls mesh-federation-tls --cert="$dir/tls.crt" --key="$dir/tls.key"
  hubctl create secret generic mesh-federation-admin-token --from-file=token="$dir/token"
}

# deploy_hub — deploy/overlays/etcd-statefulset with the image just built.
deploy_hub() {
  local rendered="$WORK/hub.yaml"
  log "deploying the hub (deploy/overlays/etcd-statefulset, image $IMAGE)"
  kubectl --context "$(ctx "$HUB")" create namespace "$HUB_NS" --dry-run=client -o yaml |
    kubectl --context "$(ctx "$HUB")" apply -f - >/dev/null
  make_hub_secrets
  # kustomize takes no absolute bases, so the image is swapped after rendering.
  kubectl kustomize "$ROOT/deploy/overlays/etcd-statefulset" |
    sed "s#image: mesh-federation:[^[:space:]]*#image: $IMAGE#" >"$rendered"
  grep -q "image: $IMAGE" "$rendered" || die "could not set the hub image in the rendered overlay"
  kubectl --context "$(ctx "$HUB")" apply -f "$rendered"
  hubctl rollout status statefulset/mesh-federation-etcd --timeout=300s
  hubctl rollout status deployment/mesh-federation-hub --timeout=300s
}

# member_kubeconfig NAME — the operator's kubeconfig for NAME, addressed by the
# control plane's IP so that pods in the hub cluster can reach it too.
member_kubeconfig() {
  local name=$1 file="$WORK/operator-$1.kubeconfig" ip
  ip=$(control_plane_ip "$name")
  kind get kubeconfig --internal --name "$name" |
    sed "s#https://$name-control-plane:6443#https://$ip:6443#" >"$file"
  chmod 0644 "$file" # read by the image's non-root user
  printf '%s' "$file"
}

# register_member NAME — `federation cluster kubeconfig` issues the hub's
# credentials from the operator's kubeconfig; `federation cluster add` hands
# them (on stdin, never written to disk) to the hub's admin API from inside a
# hub pod, where the admin token and the serving certificate are mounted.
register_member() {
  local name=$1 operator hub_kubeconfig="$WORK/hub-$1.kubeconfig"
  log "registering $name with the hub"
  operator=$(member_kubeconfig "$name")
  docker run --rm --network "$KIND_NETWORK" -v "$operator:/config/kubeconfig:ro" "$IMAGE" \
    cluster kubeconfig --kubeconfig /config/kubeconfig --context "kind-$name" >"$hub_kubeconfig"
  grep -q 'token:' "$hub_kubeconfig" || die "federation cluster kubeconfig gave no token for $name"
  hubctl exec -i deploy/mesh-federation-hub -c hub -- \
    federation cluster add "$name" --kubeconfig - \
    --hub localhost:8443 --ca /etc/federation/tls/tls.crt --token-file /etc/federation/admin/token \
    <"$hub_kubeconfig"
}

dump_hub_diagnostics() {
  [[ " ${CREATED_CLUSTERS[*]} " == *" $HUB "* ]] || return 0
  printf '\n--- hub pods ---\n' >&2
  hubctl get pods -o wide >&2 || true
  printf '\n--- hub logs (last 200 lines per pod) ---\n' >&2
  hubctl logs -l app.kubernetes.io/component=hub --tail=200 --prefix >&2 || true
}
