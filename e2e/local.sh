#!/usr/bin/env bash
# Local end-to-end test: the kind e2e's scenarios against simulated member
# clusters, with etcd, the clusters and the hub each running as its own
# process, started from the CLI and checked only through the CLI (admin gRPC
# API) and kubectl with the clusters' kubeconfigs.
#
#   bash e2e/local.sh          # or: make e2e
#   KEEP=1 bash e2e/local.sh   # keep the work directory (logs, kubeconfigs, hub.env)
#   RESTART_SIGNAL=KILL bash e2e/local.sh   # the hub restart follows a SIGKILL
#
# Exit codes: 0 passed, 1 a check failed (named on the last line), 3
# prerequisites missing. See e2e/README.md ("Local e2e").
# shellcheck source-path=SCRIPTDIR
set -Eeuo pipefail

case ${BASH_SOURCE[0]} in
  */*) HERE=${BASH_SOURCE[0]%/*} ;;
  *) HERE=. ;;
esac
ROOT=$(cd "$HERE/.." && pwd)
HERE=$ROOT/e2e/local
KEEP=${KEEP:-0}
FED=${FEDERATION:-$ROOT/.venv/bin/federation}
AGENT=${FEDERATION_AGENT:-$ROOT/.venv/bin/federation-agent}
PY=${PYTHON:-$ROOT/.venv/bin/python}
KUBECTL=${KUBECTL:-kubectl}
ETCD=${ETCD:-etcd}
RESTART_SIGNAL=${RESTART_SIGNAL:-TERM}  # how the hub is stopped before its restart: TERM or KILL

# shellcheck source=local/common.sh
source "$HERE/common.sh"
# shellcheck source=local/manifests.sh
source "$HERE/manifests.sh"

# -- topology: cluster-1 and cluster-2 share network net1; cluster-3 is on net2 ------
CLUSTERS=(cluster-1 cluster-2 cluster-3)
declare -A NETWORK=([cluster-1]=net1 [cluster-2]=net1 [cluster-3]=net2)
declare -A REGION=([cluster-1]=us-east [cluster-2]=us-west [cluster-3]=eu-west)
declare -A ZONE=([cluster-1]=us-east-1a [cluster-2]=us-west-1a [cluster-3]=eu-west-1a)
declare -A GATEWAY=([cluster-1]=192.0.2.11 [cluster-2]=192.0.2.12 [cluster-3]=192.0.2.13)
declare -A PODS=([cluster-1]=10.1.0 [cluster-2]=10.2.0 [cluster-3]=10.3.0)
NS=sample
MANAGED=app.kubernetes.io/managed-by=mesh-federation
MANAGED_KINDS=workloadentries.networking.istio.io,serviceentries.networking.istio.io,destinationrules.networking.istio.io,gateways.networking.istio.io,gateways.gateway.networking.k8s.io,secrets
DEFAULT_OUTLIER=baseEjectionTime=30s,consecutive5xxErrors=5,interval=5s,maxEjectionPercent=100
POLICY_OUTLIER=baseEjectionTime=15s,consecutive5xxErrors=3,interval=2s,maxEjectionPercent=100
VM_GRACE=3      # seconds without heartbeats before a VM's entries go
VM_ADDRESS=10.99.0.5
VM_LOCALITY=us-east/us-east-1b

# -- prerequisites (exit 3) ----------------------------------------------------------
missing=()
for tool in "$FED" "$PY" "$KUBECTL" "$ETCD"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  printf 'missing prerequisites: %s\n' "${missing[*]}" >&2
  printf 'run "make e2e" (it sets up .venv and etcd), or set FEDERATION, PYTHON, KUBECTL, ETCD\n' >&2
  exit "$E2E_EXIT_PREREQ"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mesh-federation-local-e2e.XXXXXX")
mkdir -p "$WORK/manifests"

finish() {
  local rc=$?
  trap - EXIT
  set +e
  if ((rc != 0)); then
    show_logs
  fi
  step "stopping every process this run started"
  stop_all
  if ((rc == 0)) && [[ $KEEP != 1 ]]; then
    rm -rf "$WORK"
  else
    note "work files kept in $WORK"
  fi
  if ((rc != 0)); then
    printf '\nFAILED: %s\n' "${FAILED_CHECK:-${ERR_AT:-interrupted}}" >&2
  fi
  exit "$rc"
}
trap finish EXIT
trap 'FAILED_CHECK=interrupted; exit 130' INT TERM
trap 'ERR_AT="command failed (line $LINENO): $BASH_COMMAND"' ERR

# -- access to the members and the hub -------------------------------------------------
kc() {
  local cluster=$1
  shift
  "$KUBECTL" --kubeconfig "$WORK/sim/kubeconfigs/$cluster.yaml" --request-timeout=10s "$@"
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
service_entries_in() { managed "$1" serviceentries.networking.istio.io "$(of_service "$2")" | summarize service-entries; }
rules_in() { managed "$1" destinationrules.networking.istio.io "$(of_service "$2")" | summarize rules; }
gateways_in() { managed "$1" gateways.networking.istio.io,gateways.gateway.networking.k8s.io | summarize gateways; }
hub_objects_in() { managed "$1" "$MANAGED_KINDS" | summarize names; }
rendered_for() { fed render --cluster "$1" | summarize names; }
cluster_rows() { fed cluster list --json | summarize clusters; }
service_rows() { fed services --json | summarize services; }
sync_rows() { fed status --json | summarize sync; }
policy_names() { fed get FailoverPolicy -o yaml | summarize names; }
hub_objects_for() { managed "$1" "$MANAGED_KINDS" "$(of_service "$2")" | summarize names; }
own_objects_in() { kc "$1" get services,endpointslices -n "$NS" -o json | summarize names; }
cacerts_summary() { kc "$1" -n istio-system get secret cacerts -o json | summarize cacerts; }
# cacerts_shape CLUSTER — the summary without the root fingerprint and the CA's subject.
cacerts_shape() { cacerts_summary "$1" | sed -e 's/ roots=[^ ]*//' -e 's/ ca=.*$//'; }
# cacerts_field CLUSTER roots|ca — one field of the summary.
cacerts_field() { cacerts_summary "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }

vm_rows() { fed vm list --json | summarize vms | sed 's/^[^ ]* //'; }  # without the generated name
vm_entries_in() { entries_in "$1" "$2" | grep '^from=vm ' || echo none; }
vm_identity() { summarize pem <"$WORK/vm-1/cert-chain.pem" | head -n 1 | sed 's/.* \(uri=[^ ]*\).*/\1/'; }
vm_roots() { summarize pem <"$WORK/vm-1/root-cert.pem" | sed 's/^fingerprint=\([^ ]*\).*/\1/' | paste -sd, -; }

# The expected summary lines (see e2e/local/summarize.py).
entry() {  # CLUSTER WEIGHT — the WorkloadEntry of CLUSTER's endpoints, seen elsewhere
  echo "from=$1 address=${GATEWAY[$1]} network=${NETWORK[$1]} locality=${REGION[$1]}/${ZONE[$1]} weight=$2 ports=http:15443"
}
service_entry() {  # SERVICE PORT
  echo "federation-$1 hosts=$1.$NS.svc.cluster.local location=MESH_INTERNAL resolution=STATIC ports=http/$2/HTTP selector=app=$1"
}
rule() {  # SERVICE [FAILOVER OUTLIER POLICY]
  echo "federation-$1 host=$1.$NS.svc.cluster.local locality=on failover=${2:--} priority=- outlier=${3:-$DEFAULT_OUTLIER} policy=${4:--}"
}
vm_entry() {
  echo "from=vm address=$VM_ADDRESS network=vm-net locality=$VM_LOCALITY weight=- ports=http:5000"
}
cross_network_gateway() {
  echo "cross-network-gateway selector=istio=eastwestgateway port=15443/TLS tls=AUTO_PASSTHROUGH hosts=*.local"
}
remote_gateway() {  # NETWORK ADDRESS...
  local network=$1
  shift
  local IFS=,
  echo "istio-remote-$network class=istio-remote network=$network addresses=$* port=15443"
}
synced_rows() {  # CLUSTER...
  local c
  for c in "$@"; do echo "$c state=synced synced=yes"; done
}
service_row() {  # SERVICE CLUSTER READY
  local locality=-
  (($3 > 0)) && locality="${REGION[$2]}/${ZONE[$2]}=$3"
  echo "$NS/$1 cluster=$2 ready=$3 localities=$locality"
}

# set_pods CLUSTER SERVICE SLICE PORT TOTAL READY — (re)apply a service's EndpointSlice.
set_pods() {
  local c=$1 service=$2 slice=$3 port=$4 total=$5 ready=$6
  endpoints_yaml "$NS" "$service" "$slice" "$port" "$c-node" "${ZONE[$c]}" "${PODS[$c]}" "$total" "$ready" \
    >"$WORK/manifests/$c-$slice.yaml"
  apply "$c" "$c-$slice"
}

# -- processes ------------------------------------------------------------------------
start_hub() {
  rm -f "$WORK/hub/hub.ready"
  start hub "$FED" serve --workdir "$WORK/hub" --listen "127.0.0.1:$HUB_PORT" \
    --store "etcd://127.0.0.1:$ETCD_PORT" --initial-sync-timeout 10 \
    --onboarding-listen "127.0.0.1:$VM_PORT" --vm-grace "$VM_GRACE"
  wait_for_process hub "the hub's admin API on 127.0.0.1:$HUB_PORT (hub.ready)" test -s "$WORK/hub/hub.ready"
  # shellcheck source=/dev/null
  source "$WORK/hub/hub.env"
}

# versions_of_everything — per cluster, every hub object with its resourceVersion and
# the cluster's latest resourceVersion (any write anywhere in it changes that).
versions_of_everything() {
  local c
  for c in "${CLUSTERS[@]}"; do
    running sim || return 1
    echo "[$c] revision $(kc "$c" get --raw '/api/v1/namespaces?limit=1' | summarize list-version)"
    managed "$c" "$MANAGED_KINDS" | summarize versions
  done
}

# at_rest — versions_of_everything, once two readings 1.5 s apart agree.
at_rest() {
  local first second
  first=$(versions_of_everything) || return 1
  sleep 1.5
  second=$(versions_of_everything) || return 1
  [[ $first == "$second" ]] && printf '%s\n' "$first"
}

# =====================================================================================
cd "$ROOT"
step "starting etcd, three simulated member clusters and the hub, each as its own process"
mapfile -t PORTS < <(free_ports 3)
ETCD_PORT=${PORTS[0]} ETCD_PEER_PORT=${PORTS[1]} HUB_PORT=${PORTS[2]}
VM_PORT=$(free_port_pair)  # VM enrollment; the session port is the next one
start etcd "$ETCD" --name local-e2e --data-dir "$WORK/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "local-e2e=http://127.0.0.1:$ETCD_PEER_PORT"
wait_for_process etcd "etcd to report healthy on 127.0.0.1:$ETCD_PORT" http_ok "http://127.0.0.1:$ETCD_PORT/health"
ok "etcd is healthy on 127.0.0.1:$ETCD_PORT"
if [[ -d $ROOT/../shared ]]; then
  note "the simulated clusters validate custom resources against ../shared's CRD schemas"
else
  note "../shared is absent: the simulated clusters accept custom resources without validation"
fi
start sim "$FED" sim --clusters "${#CLUSTERS[@]}" --workdir "$WORK/sim" --services 0
wait_for_process sim "the simulated clusters' ready file" test -s "$WORK/sim/ready"
for c in "${CLUSTERS[@]}"; do
  expect "$c answers kubectl" namespace/default kc "$c" get namespace default -o name
done
start_hub
ok "the hub serves its admin API on $FEDERATION_HUB (store etcd://127.0.0.1:$ETCD_PORT)"

step "preparing the members as they are before joining: network label, node locality, east-west gateway"
for c in "${CLUSTERS[@]}"; do
  member_yaml "${NETWORK[$c]}" "${REGION[$c]}" "${ZONE[$c]}" "$c-node" >"$WORK/manifests/$c-member.yaml"
  apply "$c" "$c-member"
  out=$(kc "$c" -n istio-system patch service istio-eastwestgateway --subresource=status --type=merge \
    -p "$(gateway_status_json "${GATEWAY[$c]}")" 2>&1) || fail "setting $c's east-west gateway address" "$out"
  ok "$c: istio-system on ${NETWORK[$c]}, node in ${REGION[$c]}/${ZONE[$c]}, east-west gateway at ${GATEWAY[$c]}"
done

for c in "${CLUSTERS[@]}"; do
  step "registering $c (network ${NETWORK[$c]})"
  run "federation cluster add $c" fed cluster add "$c" --kubeconfig "$WORK/sim/kubeconfigs/$c.yaml"
done
expect "the hub lists the three clusters with the network, region and gateway each one reports" \
  "$(for c in "${CLUSTERS[@]}"; do
    echo "$c network=${NETWORK[$c]} region=${REGION[$c]} gateways=${GATEWAY[$c]}"
  done)" cluster_rows
expect "every cluster is synced" "$(synced_rows "${CLUSTERS[@]}")" sync_rows

step "deploying helloworld v1 in cluster-1 (2 of 3 pods ready), v2 in cluster-2 (3 ready), sleep in cluster-3"
for c in "${CLUSTERS[@]}"; do
  namespace_yaml "$NS" >"$WORK/manifests/$c-namespace.yaml"
  apply "$c" "$c-namespace"
done
for c in cluster-1 cluster-2; do
  service_yaml "$NS" helloworld 5000 >"$WORK/manifests/$c-helloworld.yaml"
  apply "$c" "$c-helloworld"
done
set_pods cluster-1 helloworld helloworld-v1 5000 3 2
set_pods cluster-2 helloworld helloworld-v2 5000 3 3
service_yaml "$NS" sleep 80 >"$WORK/manifests/cluster-3-sleep.yaml"
apply cluster-3 cluster-3-sleep
set_pods cluster-3 sleep sleep 80 1 1
ok "applied with kubectl: namespace $NS everywhere, Services and EndpointSlices"
expect "the hub counts ready endpoints per cluster and locality (federation services)" \
  "$(lines "$(service_row helloworld cluster-1 2)" "$(service_row helloworld cluster-2 3)" \
    "$(service_row sleep cluster-3 1)")" service_rows

step "checking what the hub wrote into each cluster"
expect "cluster-3 has 2 WorkloadEntries for helloworld: cluster-1's gateway (weight 2), cluster-2's (weight 3)" \
  "$(lines "$(entry cluster-1 2)" "$(entry cluster-2 3)")" entries_in cluster-3 helloworld
expect "cluster-3 has a ServiceEntry for helloworld (it has no such Service)" \
  "$(service_entry helloworld 5000)" service_entries_in cluster-3 helloworld
expect "cluster-3 has a DestinationRule for helloworld with locality LB and outlierDetection" \
  "$(rule helloworld)" rules_in cluster-3 helloworld
expect "cluster-1 has 1 WorkloadEntry for helloworld, cluster-2's (weight 3), never its own" \
  "$(entry cluster-2 3)" entries_in cluster-1 helloworld
expect "cluster-2 has 1 WorkloadEntry for helloworld, cluster-1's (weight 2)" \
  "$(entry cluster-1 2)" entries_in cluster-2 helloworld
for c in cluster-1 cluster-2; do
  expect "$c has no ServiceEntry for helloworld (its own Service names the host)" \
    none service_entries_in "$c" helloworld
  expect "$c has the DestinationRule for helloworld" "$(rule helloworld)" rules_in "$c" helloworld
  expect "$c has a ServiceEntry for sleep" "$(service_entry sleep 80)" service_entries_in "$c" sleep
  expect "$c has 1 WorkloadEntry for sleep, cluster-3's gateway (weight 1)" \
    "$(entry cluster-3 1)" entries_in "$c" sleep
done
expect "cluster-3 has nothing for sleep (only local endpoints)" none hub_objects_for cluster-3 sleep
for c in cluster-1 cluster-2; do
  expect "$c has the cross-network Gateway and an istio-remote Gateway for net2 (cluster-3's gateway)" \
    "$(lines "$(cross_network_gateway)" "$(remote_gateway net2 "${GATEWAY[cluster-3]}")")" gateways_in "$c"
done
expect "cluster-3 has the cross-network Gateway and an istio-remote Gateway for net1 (both of its gateways)" \
  "$(lines "$(cross_network_gateway)" "$(remote_gateway net1 "${GATEWAY[cluster-1]}" "${GATEWAY[cluster-2]}")")" \
  gateways_in cluster-3
for c in "${CLUSTERS[@]}"; do
  expect "federation render --cluster $c names exactly the objects the hub wrote in $c" \
    "$(hub_objects_in "$c")" rendered_for "$c"
done

step "scaling helloworld v1 in cluster-1 to zero (EndpointSlice re-applied, no pod ready)"
set_pods cluster-1 helloworld helloworld-v1 5000 3 0
expect "cluster-3 keeps only cluster-2's WorkloadEntry for helloworld: v2 takes all traffic" \
  "$(entry cluster-2 3)" entries_in cluster-3 helloworld
expect "cluster-2 has no WorkloadEntry for helloworld any more" none entries_in cluster-2 helloworld
expect "cluster-2 has no DestinationRule for helloworld (nothing remote to fail over to)" \
  none rules_in cluster-2 helloworld
expect "cluster-1 still has cluster-2's WorkloadEntry for helloworld" "$(entry cluster-2 3)" \
  entries_in cluster-1 helloworld

step "scaling helloworld v1 back to 3 ready pods"
set_pods cluster-1 helloworld helloworld-v1 5000 3 3
expect "cluster-3 has both WorkloadEntries for helloworld again, cluster-1's with weight 3" \
  "$(lines "$(entry cluster-1 3)" "$(entry cluster-2 3)")" entries_in cluster-3 helloworld
expect "cluster-2 has cluster-1's WorkloadEntry for helloworld again (weight 3)" \
  "$(entry cluster-1 3)" entries_in cluster-2 helloworld
expect "cluster-2 has the DestinationRule for helloworld again" "$(rule helloworld)" rules_in cluster-2 helloworld

step "applying a FailoverPolicy for helloworld: us-east fails over to us-west (federation apply -f)"
failover_policy_yaml "$NS" helloworld us-east us-west >"$WORK/manifests/failover-policy.yaml"
run "federation apply -f failover-policy.yaml" fed apply -f "$WORK/manifests/failover-policy.yaml"
expect "the hub stores FailoverPolicy $NS/helloworld (federation get)" "FailoverPolicy $NS/helloworld" \
  policy_names
for c in "${CLUSTERS[@]}"; do
  expect "$c's DestinationRule for helloworld fails over us-east → us-west with the policy's outlierDetection" \
    "$(rule helloworld us-east\>us-west "$POLICY_OUTLIER" "$NS/helloworld")" rules_in "$c" helloworld
done
run "federation delete -f failover-policy.yaml" fed delete -f "$WORK/manifests/failover-policy.yaml"
expect "the hub stores no FailoverPolicy any more" none policy_names
expect "cluster-3's DestinationRule for helloworld is back to the defaults" "$(rule helloworld)" \
  rules_in cluster-3 helloworld

step "shared trust: one mesh root, an intermediate CA per cluster (federation trust init)"
TRUST=0
if fed trust --help >/dev/null 2>&1; then
  TRUST=1
  run "federation trust init" fed trust init
  for c in "${CLUSTERS[@]}"; do
    expect "$c has istio-system/cacerts: an intermediate CA issued by the mesh root, with its key" \
      "Secret istio-system/cacerts files=ca-cert.pem,ca-key.pem,cert-chain.pem,root-cert.pem issued-by-root=yes key-matches=yes" \
      cacerts_shape "$c"
  done
  roots=$(for c in "${CLUSTERS[@]}"; do cacerts_field "$c" roots; done | sort -u)
  expect_now "every cluster trusts the same single root" 1 "$(wc -l <<<"$roots" | tr -d ' ')"
  intermediates=$(for c in "${CLUSTERS[@]}"; do cacerts_field "$c" ca; done | sort -u)
  expect_now "every cluster has its own intermediate" "${#CLUSTERS[@]}" "$(wc -l <<<"$intermediates" | tr -d ' ')"
else
  note "skipped: this build has no \`federation trust\` command"
fi

step "restarting the hub on the same etcd (SIG$RESTART_SIGNAL): it must write nothing and stay in sync"
expect "every cluster is synced" "$(synced_rows "${CLUSTERS[@]}")" sync_rows
deadline=$((SECONDS + WAIT_TIMEOUT))
until before=$(at_rest); do
  ((SECONDS < deadline)) || fail "the member clusters at rest before the restart (two readings 1.5 s apart agree)"
done
note "$(grep -c ' rv=' <<<"$before") hub objects in ${#CLUSTERS[@]} clusters recorded with their resourceVersions"
if [[ $RESTART_SIGNAL == KILL ]]; then
  stop hub KILL
  ok "the hub was killed with SIGKILL (no clean shutdown)"
else
  stop hub
  expect_now "the hub exits cleanly on SIGTERM (status 0)" 0 "$STOP_STATUS"
fi
start_hub
ok "the hub is serving again on $FEDERATION_HUB"
expect "every cluster is synced after the restart" "$(synced_rows "${CLUSTERS[@]}")" sync_rows
note "watching for writes for 3 s (three times the hub's longest debounce)"
sleep 3
expect_now "no write in any member cluster after the restart: every resourceVersion unchanged" \
  "$before" "$(versions_of_everything)"
set_pods cluster-1 helloworld helloworld-v1 5000 3 1
expect "the restarted hub still follows changes: cluster-3 sees cluster-1's weight drop to 1" \
  "$(lines "$(entry cluster-1 1)" "$(entry cluster-2 3)")" entries_in cluster-3 helloworld

step "removing cluster-2 (federation cluster remove)"
run "federation cluster remove cluster-2" fed cluster remove cluster-2
expect "the hub lists cluster-1 and cluster-3 only" \
  "$(for c in cluster-1 cluster-3; do
    echo "$c network=${NETWORK[$c]} region=${REGION[$c]} gateways=${GATEWAY[$c]}"
  done)" cluster_rows
expect "cluster-2 holds no object of the hub any more" none hub_objects_in cluster-2
expect "cluster-2's own objects are untouched" \
  "$(lines "EndpointSlice $NS/helloworld-v2" "Service $NS/helloworld")" own_objects_in cluster-2
expect "cluster-3's WorkloadEntries for helloworld: cluster-1's only" "$(entry cluster-1 1)" \
  entries_in cluster-3 helloworld
expect "cluster-3's istio-remote Gateway for net1 lists cluster-1's gateway only" \
  "$(lines "$(cross_network_gateway)" "$(remote_gateway net1 "${GATEWAY[cluster-1]}")")" gateways_in cluster-3
expect "cluster-1 has nothing for helloworld (no other cluster runs it)" none hub_objects_for cluster-1 helloworld
expect "the hub no longer counts cluster-2's endpoints" \
  "$(lines "$(service_row helloworld cluster-1 1)" "$(service_row sleep cluster-3 1)")" service_rows
expect "cluster-1 and cluster-3 are synced" "$(synced_rows cluster-1 cluster-3)" sync_rows

step "VM onboarding: a VM joins helloworld with federation-agent, then leaves"
if ! fed vm --help >/dev/null 2>&1 || ! "$AGENT" join --help >/dev/null 2>&1; then
  note "skipped: this build has no \`federation vm\` / \`federation-agent join\`"
else
  workload_group_yaml "$NS" helloworld helloworld vm-net "$VM_LOCALITY" 5000 >"$WORK/manifests/workload-group.yaml"
  run "federation apply -f workload-group.yaml (WorkloadGroup $NS/helloworld, version v3)" \
    fed apply -f "$WORK/manifests/workload-group.yaml"
  (umask 077 && fed vm token create --group "$NS/helloworld" --ttl 10m >"$WORK/vm-token") ||
    fail "federation vm token create --group $NS/helloworld"
  ok "federation vm token create: a one-use bootstrap token for the group"
  start vm-agent "$AGENT" join --hub "127.0.0.1:$VM_PORT" --token-file "$WORK/vm-token" \
    --ca-bundle "$FEDERATION_CA" --address "$VM_ADDRESS" --hostname vm-1 --out "$WORK/vm-1"
  expect "the hub lists the VM as alive and healthy (federation vm list)" \
    "group=$NS/helloworld address=$VM_ADDRESS network=vm-net alive=yes healthy=yes revoked=no" vm_rows
  for c in cluster-1 cluster-3; do
    expect "$c has the VM's WorkloadEntry for helloworld, at the VM's own address" \
      "$(vm_entry)" vm_entries_in "$c" helloworld
  done
  expect "the VM's certificate names its SPIFFE identity" "uri=spiffe://cluster.local/ns/$NS/sa/helloworld" \
    vm_identity
  if ((TRUST)); then
    expect "the VM trusts the same root as the clusters" "$(cacerts_field cluster-1 roots)" vm_roots
  fi
  stop vm-agent
  expect_now "the agent exits cleanly on SIGTERM (status 0)" 0 "$STOP_STATUS"
  for c in cluster-1 cluster-3; do
    expect "$c drops the VM's WorkloadEntry once its heartbeats stop (grace ${VM_GRACE}s)" \
      none vm_entries_in "$c" helloworld
  done
  expect "the hub lists the VM as no longer alive" \
    "group=$NS/helloworld address=$VM_ADDRESS network=vm-net alive=no healthy=no revoked=no" vm_rows
fi

step "passed: $CHECKS checks in ${SECONDS}s"
