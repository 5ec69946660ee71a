# shellcheck shell=bash
# Preparing member clusters and installing Istio with an east-west gateway.
# Sourced by e2e/kind.sh after lib/common.sh and lib/clusters.sh; uses ROOT,
# SHARED and WORK from the caller.

MESH_ID=${MESH_ID:-mesh1}

# prepare_member NAME NETWORK — what must exist before Istio and the hub come:
# istio-system with its network label, the CRDs of the kinds the hub reads and
# writes that Istio does not install (Gateway API before istiod, so that istiod
# creates the istio-remote GatewayClass), and the hub's access.
prepare_member() {
  local name=$1 network=$2 context
  context=$(ctx "$name")
  log "preparing $name (network $network)"
  kubectl --context "$context" create namespace istio-system --dry-run=client -o yaml |
    kubectl --context "$context" apply -f - >/dev/null
  kubectl --context "$context" label namespace istio-system --overwrite "topology.istio.io/network=$network" >/dev/null
  # Gateway API (the istio-remote Gateways) and MCS ServiceExport (the opt-in the
  # hub watches); Istio's own CRDs come with istioctl install.
  kubectl --context "$context" apply --server-side \
    -f "$SHARED/gateway-api/gatewayclasses.yaml" -f "$SHARED/gateway-api/gateways.yaml" \
    -f "$SHARED/mcs-api/serviceexports.yaml" >/dev/null
  kubectl --context "$context" apply -k "$ROOT/deploy/member" >/dev/null
}

# wait_for_cacerts NAME — the hub pushes each member's intermediate CA.
wait_for_cacerts() {
  local name=$1
  log "waiting for the hub to write istio-system/cacerts in $name"
  wait_until "cacerts in $name" "${CACERTS_TIMEOUT:-180}" \
    kubectl --context "$(ctx "$name")" -n istio-system get secret cacerts -o name
}

# restart_istio NAME — istiod reads cacerts when it starts, and the gateway's
# certificate must come from the new intermediate.
restart_istio() {
  local name=$1 context
  context=$(ctx "$name")
  log "restarting istiod and the east-west gateway in $name onto the shared root"
  kubectl --context "$context" -n istio-system rollout restart deployment/istiod
  kubectl --context "$context" -n istio-system rollout status deployment/istiod --timeout=300s
  kubectl --context "$context" -n istio-system rollout restart deployment/istio-eastwestgateway
  kubectl --context "$context" -n istio-system rollout status deployment/istio-eastwestgateway --timeout=300s
  wait_until "the GatewayClass istio-remote in $name" 60 \
    kubectl --context "$context" get gatewayclass istio-remote -o name
}

# install_istio NAME NETWORK
install_istio() {
  local name=$1 network=$2 context eastwest
  context=$(ctx "$name")
  log "installing Istio in $name (cluster $name, network $network, mesh $MESH_ID)"
  istioctl install -y --context "$context" -f "$ROOT/e2e/manifests/istio-member.yaml" \
    --set "values.global.meshID=$MESH_ID" \
    --set "values.global.multiCluster.clusterName=$name" \
    --set "values.global.network=$network"
  log "installing the east-west gateway in $name"
  eastwest="$WORK/eastwest-$name.yaml"
  sed "s/NETWORK_PLACEHOLDER/$network/g" "$ROOT/e2e/manifests/eastwest-gateway.yaml" >"$eastwest"
  istioctl install -y --context "$context" -f "$eastwest"
  wait_until "an external address for the east-west gateway in $name" 180 \
    eastwest_address "$name"
  info "east-west gateway of $name: $(eastwest_address "$name")"
}

eastwest_address() {
  local address
  address=$(kubectl --context "$(ctx "$1")" -n istio-system get service istio-eastwestgateway \
    -o jsonpath='{.status.loadBalancer.ingress[0].ip}{.status.loadBalancer.ingress[0].hostname}' 2>/dev/null)
  [[ -n $address ]] && printf '%s' "$address"
}

# root_cert NAME — the mesh root that istiod hands to workloads in NAME.
root_cert() {
  kubectl --context "$(ctx "$1")" -n istio-system get configmap istio-ca-root-cert \
    -o jsonpath='{.data.root-cert\.pem}'
}

# same_root NAME... — true when every cluster publishes one, identical root.
same_root() {
  local first name other
  first=$(root_cert "$1") || return 1
  [[ -n $first ]] || return 1
  for name in "${@:2}"; do
    other=$(root_cert "$name") || return 1
    [[ $other == "$first" ]] || return 1
  done
}
