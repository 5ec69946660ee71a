# shellcheck shell=bash
# The local e2e on real peers: a fleet of real kube-apiservers (python -m peers up,
# its own process), the hub joined through deploy/member's RBAC, an istiod per
# member once the hub wrote its cacerts, and what those istiods hand a sidecar and
# the east-west gateway (xDS), sign (CA) and report (istioctl analyze).
# Sourced by e2e/local.sh after common.sh; uses PY, ROOT, WORK, CLUSTERS, NETWORK,
# REGION, ZONE and GATEWAY.

peers() { "$PY" -m peers "$@"; }

# real_peers_missing — prints what is missing for real peers (and fails), or nothing.
real_peers_missing() {
  local why
  why=$(cd "$ROOT" && "$PY" -c 'from peers.binaries import find_binaries; find_binaries()' 2>&1 | tail -n 1) ||
    { echo "real peers (${why:-peers.binaries failed}; run \"make peers\")"; return 1; }
  [[ -d $ROOT/../shared/istio ]] || { echo "../shared (the CRDs the real API servers serve)"; return 1; }
}

# start_real_fleet — python -m peers up with one member per CLUSTERS entry; then the
# gateway addresses the launcher gave each cluster's east-west gateway.
start_real_fleet() {
  local c topology=()
  for c in "${CLUSTERS[@]}"; do
    topology+=(--topology "$c:${NETWORK[$c]}:${REGION[$c]}:${ZONE[$c]}")
  done
  # shellcheck disable=SC2034 # common.sh's associative array
  STOP_TIMEOUT_OF["peers"]=90  # it stops three istiods, three kube-apiservers and etcd, each bounded
  start peers "$PY" -m peers up --workdir "$WORK/peers" "${topology[@]}" --timeout "$PEERS_TIMEOUT"
  WAIT_TIMEOUT=$PEERS_TIMEOUT wait_for_process peers "the real fleet's ready file" test -s "$WORK/peers/ready"
  for c in "${CLUSTERS[@]}"; do
    # shellcheck disable=SC2034,SC2004 # GATEWAY is e2e/local.sh's associative array
    GATEWAY[$c]=$(fleet_field "$c" gateway address)
  done
}

# fleet_field CLUSTER KEY... — one value of the fleet's ready file.
fleet_field() {
  "$PY" - "$WORK/peers/ready" "$@" <<'EOF'
import json, sys
value = json.load(open(sys.argv[1]))["clusters"][sys.argv[2]]
for key in sys.argv[3:]:
    value = value[key]
print(value)
EOF
}

# peers_workload CLUSTER NAMESPACE SERVICE PORT TOTAL READY [DEPLOYED] — deploy or scale.
peers_workload() {
  local c=$1 ns=$2 service=$3 port=$4 total=$5 ready=$6 deployed=${7:-}
  if [[ -z $deployed ]]; then
    peers deploy --workdir "$WORK/peers" --cluster "$c" --namespace "$ns" --name "$service" \
      --port "http:$port" --pods "$total" --ready "$ready" >/dev/null
  else
    peers scale --workdir "$WORK/peers" --cluster "$c" --namespace "$ns" --name "$service" \
      --pods "$total" --ready "$ready" >/dev/null
  fi
}

# hub_kubeconfig_for CLUSTER — kubectl apply -k deploy/member as the admin, then the hub's
# least-privilege kubeconfig from `federation cluster kubeconfig` (printed: its path).
hub_kubeconfig_for() {
  local c=$1 out file=$WORK/hub-kubeconfigs/$1.yaml
  out=$(kc "$c" apply -k "$ROOT/deploy/member" 2>&1) || fail "$c: kubectl apply -k deploy/member" "$out"
  mkdir -p "$WORK/hub-kubeconfigs"
  (umask 077 && fed cluster kubeconfig --context "$c" --kubeconfig "$(admin_kubeconfig "$c")" >"$file") ||
    fail "$c: federation cluster kubeconfig --context $c"
  echo "$file"
}

# -- istiod ----------------------------------------------------------------------------
start_istiods() {
  local out
  out=$(peers istiod start "$@" --workdir "$WORK/peers" --timeout "$PEERS_TIMEOUT" 2>&1) ||
    fail "starting istiod in $*" "$out"
}

# sidecar_endpoints CLUSTER SERVICE PORT [NAMESPACE] — what istiod hands a sidecar in
# CLUSTER (namespace NAMESPACE) for outbound|PORT||SERVICE.NAMESPACE.svc.cluster.local.
sidecar_endpoints() {
  local ns=${4:-$NS}
  peers xds endpoints --workdir "$WORK/peers" --cluster "$1" --namespace "$ns" \
    --host "$2.$ns.svc.cluster.local" --port "$3" | summarize xds-endpoints
}

# gateway_sni CLUSTER SERVICE — the east-west gateway's SNI chains on 15443 for SERVICE.
gateway_sni() {
  peers xds listeners --router --workdir "$WORK/peers" --cluster "$1" --port 15443 |
    summarize sni | grep -F ".$2." || echo none
}

# sni SERVICE PORT [NAMESPACE] — the SNI AUTO_PASSTHROUGH routes by.
sni() { echo "15443 outbound_.$2_._.$1.${3:-$NS}.svc.cluster.local"; }

# ca_chain CLUSTER SERVICE_ACCOUNT ROOT_FILE — a workload certificate from the cluster's
# istiod, checked with openssl verify against ROOT_FILE: "verified" and its SPIFFE URI.
ca_chain() {
  peers ca-verify --workdir "$WORK/peers" --cluster "$1" --namespace "$NS" --service-account "$2" --root "$3" |
    "$PY" -c 'import json, sys; d = json.load(sys.stdin)
print(("verified" if d["ok"] else "NOT verified: " + d["output"]) + " " + ",".join(d["uris"]))'
}

# analyze_findings CLUSTER — istioctl analyze's errors and warnings that name an
# object of the hub in CLUSTER ("none" when there is none); the full report goes
# to $WORK/analyze-CLUSTER.txt.
analyze_findings() {
  local c=$1 istioctl report refs
  istioctl=$(cd "$ROOT" && "$PY" -c 'from peers.binaries import find_binaries; print(find_binaries().istioctl)')
  report=$WORK/analyze-$c.txt
  "$istioctl" analyze --kubeconfig "$(admin_kubeconfig "$c")" --all-namespaces >"$report" 2>&1 || true
  grep -Eq '\[IST[0-9]+\]|No validation issues' "$report" || { cat "$report"; return 1; }
  # istioctl names a resource as "(Kind namespace/name)", as `summarize names` does
  refs=$(managed "$c" "$MANAGED_KINDS" | summarize names | sed 's/.*/(&)/')
  grep -E '^(Error|Warning)' "$report" | grep -F -f <(printf '%s\n' "$refs") || echo none
}

# rss_report — the resident memory of every kube-apiserver and istiod, in MB.
rss_report() {
  peers rss --workdir "$WORK/peers" | "$PY" -c 'import json, sys
for cluster, procs in sorted(json.load(sys.stdin).items()):
    print(cluster + ": " + ", ".join(f"{name} {rss / 1e6:.0f} MB" for name, rss in sorted(procs.items())))'
}
