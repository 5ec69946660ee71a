# shellcheck shell=bash
# The local e2e's view of the members and the hub: kubectl and the federation CLI
# as the checks call them, each answer summarized (summarize.py), the lines each
# check expects, and deploying or scaling a workload in either kind of member.
# Sourced by e2e/local.sh after common.sh; uses its topology (CLUSTERS, NETWORK,
# REGION, ZONE, GATEWAY, PODS, NS, MANAGED, MANAGED_KINDS, E2E_PEERS, ...).
# shellcheck disable=SC2034,SC2154 # the topology is e2e/local.sh's

kc() {
  local cluster=$1
  shift
  "$KUBECTL" --kubeconfig "$(admin_kubeconfig "$cluster")" --request-timeout=10s "$@"
}

# admin_kubeconfig CLUSTER — the cluster admin's kubeconfig (what kubectl here uses).
admin_kubeconfig() {
  if [[ $E2E_PEERS == real ]]; then
    echo "$WORK/peers/kubeconfigs/$1.yaml"
  else
    echo "$WORK/sim/kubeconfigs/$1.yaml"
  fi
}

fed() { "$FED" --log-level warning "$@"; }

# apply CLUSTER NAME — kubectl apply of $WORK/manifests/NAME.yaml (written just before).
apply() {
  local out
  out=$(kc "$1" apply -f "$WORK/manifests/$2.yaml" 2>&1) || fail "kubectl apply of $2 in $1" "$out"
}

# managed CLUSTER KINDS [SELECTOR] — the hub's objects of KINDS as a kubectl List (JSON).
managed() { kc "$1" get "$2" -A -l "$MANAGED${3:+,$3}" -o json; }

of_service() { echo "federation.mesh/service-name=$1"; }
entries_in() { managed "$1" workloadentries.networking.istio.io "$(of_service "$2")" | summarize entries; }
stubs_in() { managed "$1" services "$(of_service "$2")" | summarize stubs; }
rules_in() { managed "$1" destinationrules.networking.istio.io "$(of_service "$2")" | summarize rules; }
gateways_in() { managed "$1" gateways.networking.istio.io,gateways.gateway.networking.k8s.io | summarize gateways; }
hub_namespaces_in() { managed "$1" namespaces | summarize namespaces; }
hub_objects_in() { managed "$1" "$MANAGED_KINDS" | summarize live-names; }
rendered_for() { fed render --cluster "$1" | summarize names; }
cluster_rows() { fed cluster list --json | summarize clusters; }
service_rows() { fed services --json | summarize services; }
service_rows_of() { service_rows | grep "^$1 " || echo none; }  # NAMESPACE/NAME
sync_rows() { fed status --json | summarize sync; }
policy_names() { fed get FailoverPolicy -o yaml | summarize names; }
hub_objects_for() { managed "$1" "$MANAGED_KINDS" "$(of_service "$2")" | summarize live-names; }
own_objects_in() { kc "$1" get services,endpointslices -n "$NS" -l "!${MANAGED%%=*}" -o json | summarize names; }
cacerts_summary() { kc "$1" -n istio-system get secret cacerts -o json | summarize cacerts; }
# cacerts_shape CLUSTER — the summary without the root fingerprint and the CA's subject.
cacerts_shape() { cacerts_summary "$1" | sed -e 's/ roots=[^ ]*//' -e 's/ ca=.*$//'; }
# cacerts_field CLUSTER roots|ca — one field of the summary.
cacerts_field() { cacerts_summary "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }

# trust_roots — the fingerprints (as summarize prints them) of the roots federation trust status reports.
trust_roots() {
  fed trust status -o json | "$PY" -c 'import json, sys
print(",".join(r["fingerprint"].replace(":", "").lower()[:16] for r in json.load(sys.stdin)["roots"]))'
}
vm_rows() { fed vm list --json | summarize vms | sed 's/^[^ ]* //'; }  # without the generated name
vm_name() { fed vm list --json | summarize vms | cut -d' ' -f1; }     # vm-1-<generated>
vm_entries_in() { entries_in "$1" "$2" | grep '^from=vm ' || echo none; }
vm_identity() { summarize pem <"$WORK/vm-1/cert-chain.pem" | head -n 1 | sed 's/.* \(uri=[^ ]*\).*/\1/'; }
vm_roots() { summarize pem <"$WORK/vm-1/root-cert.pem" | sed 's/^fingerprint=\([^ ]*\).*/\1/' | paste -sd, -; }

# The expected summary lines (see e2e/local/summarize.py).
# entry CLUSTER SERVICE WEIGHT TARGET — the WorkloadEntry of CLUSTER's endpoints of SERVICE
# in TARGET: at CLUSTER's gateway, marked for mTLS, with the workloads' service
# account, labelled so that TARGET's Service selects it (its own Service by
# app=SERVICE, the hub's stub by the federation's labels).
entry() {
  local c=$1 svc=$2 weight=$3 target=$4 ns=${5:-$NS} labels
  labels=app.kubernetes.io/managed-by=mesh-federation,federation.mesh/service-name=$svc
  labels+=,federation.mesh/service-namespace=$ns,federation.mesh/source-cluster=$c,security.istio.io/tlsMode=istio
  [[ -n ${RUNS[$target/$svc]:-} ]] && labels="app=$svc,$labels"  # sorted: "app" before "app.kubernetes.io/…"
  echo "from=$c address=${GATEWAY[$c]} network=${NETWORK[$c]} locality=${REGION[$c]}/${ZONE[$c]}" \
    "weight=$weight ports=http:15443 sa=$svc labels=$labels"
}
# stub SERVICE PORT [NAMESPACE] — the Service the hub writes where SERVICE does not run.
stub() {
  local ns=${3:-$NS}
  echo "Service $ns/$1 type=ClusterIP ports=http/$2>$2/http" \
    "selector=federation.mesh/service-name=$1,federation.mesh/service-namespace=$ns"
}
rule() {  # SERVICE [FAILOVER OUTLIER POLICY [NAMESPACE]]
  echo "federation-$1 host=$1.${5:-$NS}.svc.cluster.local locality=on failover=${2:--} priority=-" \
    "outlier=${3:-$DEFAULT_OUTLIER} policy=${4:--}"
}
vm_entry() {
  echo "from=vm address=$VM_ADDRESS network=vm-net locality=$VM_LOCALITY weight=- ports=http:5000 sa=helloworld" \
    "labels=app=helloworld,app.kubernetes.io/managed-by=mesh-federation,federation.mesh/service-name=helloworld,federation.mesh/service-namespace=$NS,federation.mesh/source-cluster=vm,federation.mesh/vm=$(vm_name),security.istio.io/tlsMode=istio,version=v3"
}
cross_network_gateway() {
  echo "Gateway istio-system/mesh-federation-cross-network selector=istio=eastwestgateway port=15443/TLS" \
    "tls=AUTO_PASSTHROUGH hosts=*.cluster.local"
}
# endpoint CLUSTER WEIGHT — what a sidecar elsewhere is handed for CLUSTER's endpoints.
endpoint() {
  echo "address=${GATEWAY[$1]}:15443 tls=istio weight=$2 locality=${REGION[$1]}/${ZONE[$1]} health=UNKNOWN"
}
synced_rows() {  # CLUSTER...
  local c
  for c in "$@"; do echo "$c state=synced synced=yes"; done
}
service_row() {  # SERVICE CLUSTER READY
  local locality=-
  (($3 > 0)) && locality="${REGION[$2]}/${ZONE[$2]}=$3"
  [[ $1 == */* ]] && echo "$1 cluster=$2 ready=$3 localities=$locality" && return  # NAMESPACE/SERVICE
  echo "$NS/$1 cluster=$2 ready=$3 localities=$locality"
}

# workload CLUSTER SERVICE PORT TOTAL READY [NAMESPACE] — SERVICE runs TOTAL pods in CLUSTER,
# READY of them ready: the first call deploys it (Service, Pods, EndpointSlice), later
# ones scale it (simulated: kubectl apply; real: the launcher, as kubelet and controllers would).
declare -A RUNS=()
slice_of() { if [[ $E2E_PEERS == real ]]; then echo "$1-peers"; else echo "$1"; fi; }
workload() {
  local c=$1 service=$2 port=$3 total=$4 ready=$5 ns=${6:-$NS} out
  if [[ $E2E_PEERS == real ]]; then
    out=$(peers_workload "$c" "$ns" "$service" "$port" "$total" "$ready" "${RUNS[$c/$service]:-}" 2>&1) ||
      fail "$c: ${RUNS[$c/$service]:+re}deploying $ns/$service ($ready of $total pods ready)" "$out"
  else
    if [[ -z ${RUNS[$c/$service]:-} ]]; then
      if ! kc "$c" get namespace "$ns" -o name >/dev/null 2>&1; then  # as the launcher does
        namespace_yaml "$ns" >"$WORK/manifests/$c-$ns-namespace.yaml"
        apply "$c" "$c-$ns-namespace"
      fi
      service_yaml "$ns" "$service" "$port" >"$WORK/manifests/$c-$service-service.yaml"
      apply "$c" "$c-$service-service"
    fi
    endpoints_yaml "$ns" "$service" "$service" "$port" "$c-node" "${ZONE[$c]}" "${PODS[$c]}" "$total" "$ready" \
      >"$WORK/manifests/$c-$service.yaml"
    apply "$c" "$c-$service"
  fi
  RUNS[$c/$service]=yes
}

