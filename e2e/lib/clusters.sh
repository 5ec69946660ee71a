# shellcheck shell=bash
# kind clusters, the docker network between them, and MetalLB.
# Sourced by e2e/kind.sh after lib/common.sh.

METALLB_VERSION=${METALLB_VERSION:-v0.14.9}
KIND_NETWORK=${KIND_NETWORK:-kind}

# Clusters this run created (only these are deleted at teardown).
CREATED_CLUSTERS=()

ctx() { printf 'kind-%s' "$1"; }

cluster_exists() { kind get clusters 2>/dev/null | grep -qx "$1"; }

# create_cluster NAME CONFIG
create_cluster() {
  local name=$1 config=$2
  if cluster_exists "$name"; then
    die "kind cluster $name already exists (left by KEEP=1?): delete it with 'kind delete cluster --name $name'"
  fi
  log "creating kind cluster $name"
  kind create cluster --config "$config" --wait 180s
  CREATED_CLUSTERS+=("$name")
}

delete_created_clusters() {
  local name
  for name in "${CREATED_CLUSTERS[@]}"; do
    log "deleting kind cluster $name"
    kind delete cluster --name "$name" || warn "could not delete cluster $name"
  done
}

# control_plane_ip NAME — the API server's address on the kind docker network.
control_plane_ip() {
  docker inspect -f "{{(index .NetworkSettings.Networks \"$KIND_NETWORK\").IPAddress}}" "$1-control-plane"
}

# metallb_range INDEX — an address range of the kind docker network for one
# cluster, far from the low addresses docker hands to containers.
metallb_range() {
  local index=$1 subnet base prefix a b c
  subnet=$(docker network inspect "$KIND_NETWORK" \
    -f '{{range .IPAM.Config}}{{if not (eq .Subnet "")}}{{.Subnet}} {{end}}{{end}}' |
    tr ' ' '\n' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/' | head -n1)
  [[ -n $subnet ]] || die "no IPv4 subnet on docker network $KIND_NETWORK"
  base=${subnet%/*}
  prefix=${subnet#*/}
  IFS=. read -r a b c _ <<<"$base"
  if ((prefix <= 16)); then
    printf '%s.%s.%s.1-%s.%s.%s.250' "$a" "$b" "$((250 - index))" "$a" "$b" "$((250 - index))"
  elif ((prefix <= 24)); then
    # A /24 network: ten addresses per cluster at the top of the range.
    printf '%s.%s.%s.%s-%s.%s.%s.%s' "$a" "$b" "$c" "$((200 + index * 10))" "$a" "$b" "$c" "$((209 + index * 10))"
  else
    die "docker network $KIND_NETWORK ($subnet) is too small for MetalLB address pools"
  fi
}

# install_metallb NAME INDEX
install_metallb() {
  local name=$1 index=$2 range node
  range=$(metallb_range "$index")
  log "installing MetalLB $METALLB_VERSION in $name (pool $range)"
  kubectl --context "$(ctx "$name")" apply -f \
    "https://raw.githubusercontent.com/metallb/metallb/$METALLB_VERSION/config/manifests/metallb-native.yaml" >/dev/null
  # kind marks control-plane nodes as excluded from load balancers, and MetalLB
  # honours that: on single-node clusters nothing would announce the addresses.
  for node in $(kubectl --context "$(ctx "$name")" get nodes -o name); do
    kubectl --context "$(ctx "$name")" label "$node" node.kubernetes.io/exclude-from-external-load-balancers- >/dev/null 2>&1 || true
  done
  kubectl --context "$(ctx "$name")" -n metallb-system rollout status deployment/controller --timeout=300s
  kubectl --context "$(ctx "$name")" -n metallb-system rollout status daemonset/speaker --timeout=300s
  # The webhook may answer a little after the controller reports ready.
  wait_until "MetalLB address pool in $name" 120 apply_metallb_pool "$name" "$range"
}

apply_metallb_pool() {
  local name=$1 range=$2
  kubectl --context "$(ctx "$name")" apply -f - >/dev/null 2>&1 <<EOF
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: kind-pool
  namespace: metallb-system
spec:
  addresses:
    - $range
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: kind-l2
  namespace: metallb-system
spec:
  ipAddressPools:
    - kind-pool
EOF
}

# connect_flat_network NAME... — clusters that share an Istio network must
# reach each other's pod IPs: route every other cluster's pod CIDRs through its
# nodes' addresses on the docker network.
connect_flat_network() {
  local from to node cidr ip
  for from in "$@"; do
    for to in "$@"; do
      [[ $from == "$to" ]] && continue
      while read -r node cidr; do
        [[ -n $cidr ]] || continue
        ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$KIND_NETWORK\").IPAddress}}" "$node")
        local target
        for target in $(kind get nodes --name "$from"); do
          docker exec "$target" ip route replace "$cidr" via "$ip"
        done
        info "$from -> $to: $cidr via $node ($ip)"
      done < <(kubectl --context "$(ctx "$to")" get nodes \
        -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.podCIDR}{"\n"}{end}')
    done
  done
}
