#!/usr/bin/env bash
# Local end-to-end test: the kind e2e's scenarios with etcd, the member
# clusters and the hub each running as its own process, started from the CLI
# and checked only through the CLI (admin gRPC API), kubectl with the clusters'
# kubeconfigs and, on real peers, what each cluster's istiod hands its proxies.
#
#   E2E_PEERS=real bash e2e/local.sh   # or: make e2e — real kube-apiservers, an istiod per member
#   bash e2e/local.sh                  # or: make e2e-sim — simulated clusters (fast)
#   KEEP=1 bash e2e/local.sh           # keep the work directory (logs, kubeconfigs, hub.env)
#   RESTART_SIGNAL=KILL bash e2e/local.sh   # the hub restart follows a SIGKILL
#
# On real peers (python -m peers: kube-apiserver and istiod built by `make peers`)
# the hub joins each member with the least-privilege kubeconfig of
# `federation cluster kubeconfig` after `kubectl apply -k deploy/member`, and
# every routing check is also asked of the member's istiod over xDS.
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
E2E_PEERS=${E2E_PEERS:-sim}             # sim: simulated clusters; real: kube-apiserver + istiod
PEERS_TIMEOUT=${PEERS_TIMEOUT:-240}     # seconds for the real fleet and its istiods to start
START_TIMEOUT=${START_TIMEOUT:-90}      # seconds for the hub or the simulated clusters to start
MEMBERS_PROCESS=sim                     # the process serving the member clusters
[[ $E2E_PEERS == real ]] && MEMBERS_PROCESS=peers

# shellcheck source=local/common.sh
source "$HERE/common.sh"
# shellcheck source=local/manifests.sh
source "$HERE/manifests.sh"
# shellcheck source=local/peers.sh
source "$HERE/peers.sh"

# -- topology: cluster-1 and cluster-2 share network net1; cluster-3 is on net2 ------
CLUSTERS=(cluster-1 cluster-2 cluster-3)
declare -A NETWORK=([cluster-1]=net1 [cluster-2]=net1 [cluster-3]=net2)
declare -A REGION=([cluster-1]=us-east [cluster-2]=us-west [cluster-3]=eu-west)
declare -A ZONE=([cluster-1]=us-east-1a [cluster-2]=us-west-1a [cluster-3]=eu-west-1a)
declare -A GATEWAY=([cluster-1]=192.0.2.11 [cluster-2]=192.0.2.12 [cluster-3]=192.0.2.13)  # real: the launcher's
declare -A PODS=([cluster-1]=10.1.0 [cluster-2]=10.2.0 [cluster-3]=10.3.0)
NS=sample
MANAGED=app.kubernetes.io/managed-by=mesh-federation
# Every kind the hub writes, and those it wrote before (ServiceEntries, Gateway API
# Gateways), so a leftover of an older shape fails the comparison with the render.
MANAGED_KINDS=namespaces,services,workloadentries.networking.istio.io,serviceentries.networking.istio.io,destinationrules.networking.istio.io,gateways.networking.istio.io,gateways.gateway.networking.k8s.io,secrets
SHOP=shop       # a namespace only cluster-3 has: the hub creates it where it imports echo
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
case $E2E_PEERS in
  sim) ;;
  real) peers_missing=$(real_peers_missing) || missing+=("$peers_missing") ;;
  *)
    printf 'E2E_PEERS=%s: expected sim or real\n' "$E2E_PEERS" >&2
    exit "$E2E_EXIT_PREREQ"
    ;;
esac
if ((${#missing[@]})); then
  printf 'missing prerequisites: %s\n' "${missing[*]}" >&2
  printf 'run "make e2e" (it sets up .venv, etcd and the peers), or set FEDERATION, PYTHON, KUBECTL, ETCD\n' >&2
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

# shellcheck source=local/members.sh
source "$HERE/members.sh"

# -- processes ------------------------------------------------------------------------
start_hub() {
  rm -f "$WORK/hub/hub.ready"
  start hub "$FED" serve --workdir "$WORK/hub" --listen "127.0.0.1:$HUB_PORT" \
    --store "etcd://127.0.0.1:$ETCD_PORT" --initial-sync-timeout 10 \
    --onboarding-listen "127.0.0.1:$VM_PORT" --vm-grace "$VM_GRACE" \
    --probe-gateways 0  # the members' east-west gateway addresses are placeholders: nothing listens
  WAIT_TIMEOUT=$START_TIMEOUT wait_for_process hub "the hub's admin API on 127.0.0.1:$HUB_PORT (hub.ready)" \
    test -s "$WORK/hub/hub.ready"
  # shellcheck source=/dev/null
  source "$WORK/hub/hub.env"
}

# versions_of_everything — per cluster, every hub object with its resourceVersion and
# the cluster's latest resourceVersion (any write anywhere in it changes that). A real
# API server's latest resourceVersion is its etcd's revision, which leases and istiod
# move all the time: there, every object of every kind the hub writes (its own or not)
# is listed with its resourceVersion instead.
versions_of_everything() {
  local c
  for c in "${CLUSTERS[@]}"; do
    running "$MEMBERS_PROCESS" || return 1  # a crashed member process is no "rest"
    if [[ $E2E_PEERS == real ]]; then
      echo "[$c]"
      kc "$c" get "$MANAGED_KINDS" -A -o json | summarize versions
    else
      echo "[$c] revision $(kc "$c" get --raw '/api/v1/namespaces?limit=1' | summarize list-version)"
      managed "$c" "$MANAGED_KINDS" | summarize versions
    fi
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
if [[ $E2E_PEERS == real ]]; then
  step "starting etcd, three real member clusters (kube-apiserver each) and the hub, each as its own process"
else
  step "starting etcd, three simulated member clusters and the hub, each as its own process"
fi
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
if [[ $E2E_PEERS == real ]]; then
  start_real_fleet
  ok "three kube-apiservers with Istio's CRDs, RBAC enforced (python -m peers up, $(fleet_field cluster-1 server) …)"
else
  if [[ -d $ROOT/../shared ]]; then
    note "the simulated clusters validate custom resources against ../shared's CRD schemas"
  else
    note "../shared is absent: the simulated clusters accept custom resources without validation"
  fi
  start sim "$PY" -m kubesim --clusters "${#CLUSTERS[@]}" --workdir "$WORK/sim" --services 0
  WAIT_TIMEOUT=$START_TIMEOUT wait_for_process sim "the simulated clusters' ready file" test -s "$WORK/sim/ready"
fi
for c in "${CLUSTERS[@]}"; do
  expect "$c answers kubectl" namespace/default kc "$c" get namespace default -o name
done
start_hub
ok "the hub serves its admin API on $FEDERATION_HUB (store etcd://127.0.0.1:$ETCD_PORT)"

step "the members as they are before joining: network label, node locality, east-west gateway"
for c in "${CLUSTERS[@]}"; do
  if [[ $E2E_PEERS == sim ]]; then
    member_yaml "${NETWORK[$c]}" "${REGION[$c]}" "${ZONE[$c]}" "$c-node" >"$WORK/manifests/$c-member.yaml"
    apply "$c" "$c-member"
    out=$(kc "$c" -n istio-system patch service istio-eastwestgateway --subresource=status --type=merge \
      -p "$(gateway_status_json "${GATEWAY[$c]}")" 2>&1) || fail "setting $c's east-west gateway address" "$out"
  fi
  expect "$c: istio-system on ${NETWORK[$c]}, east-west gateway at ${GATEWAY[$c]}" \
    "${NETWORK[$c]} ${GATEWAY[$c]}" kc "$c" get -n istio-system namespace/istio-system service/istio-eastwestgateway \
    -o jsonpath='{.items[0].metadata.labels.topology\.istio\.io/network} {.items[1].status.loadBalancer.ingress[0].ip}'
done

for c in "${CLUSTERS[@]}"; do
  if [[ $E2E_PEERS == real ]]; then
    step "registering $c (network ${NETWORK[$c]}) with least privilege: deploy/member, then federation cluster kubeconfig"
    kubeconfig=$(hub_kubeconfig_for "$c")
    ok "$c: kubectl apply -k deploy/member; the hub's kubeconfig authenticates as istio-system/mesh-federation-reader"
  else
    step "registering $c (network ${NETWORK[$c]})"
    kubeconfig=$(admin_kubeconfig "$c")
  fi
  run "federation cluster add $c" fed cluster add "$c" --kubeconfig "$kubeconfig"
done
expect "the hub lists the three clusters with the network, region and gateway each one reports" \
  "$(for c in "${CLUSTERS[@]}"; do
    echo "$c network=${NETWORK[$c]} region=${REGION[$c]} gateways=${GATEWAY[$c]}"
  done)" cluster_rows
expect "every cluster is synced" "$(synced_rows "${CLUSTERS[@]}")" sync_rows
for c in "${CLUSTERS[@]}"; do
  expect "$c has the hub's cross-network Gateway (AUTO_PASSTHROUGH on 15443 for the mesh's domain), nothing else" \
    "$(cross_network_gateway)" gateways_in "$c"
done

step "shared trust: one mesh root, an intermediate CA per cluster (federation trust init)"
run "federation trust init" fed trust init
for c in "${CLUSTERS[@]}"; do
  expect "$c has istio-system/cacerts: an intermediate CA issued by the mesh root, with its key" \
    "Secret istio-system/cacerts files=ca-cert.pem,ca-key.pem,cert-chain.pem,root-cert.pem issued-by-root=yes key-matches=yes" \
    cacerts_shape "$c"
done
roots=$(for c in "${CLUSTERS[@]}"; do cacerts_field "$c" roots; done | sort -u)
expect_now "every cluster trusts the same single root" 1 "$(wc -l <<<"$roots" | tr -d ' ')"
expect_now "it is the root federation trust status reports" "$(trust_roots)" "$roots"
intermediates=$(for c in "${CLUSTERS[@]}"; do cacerts_field "$c" ca; done | sort -u)
expect_now "every cluster has its own intermediate" "${#CLUSTERS[@]}" "$(wc -l <<<"$intermediates" | tr -d ' ')"
if [[ $E2E_PEERS == real ]]; then
  step "starting an istiod in every member, its CA plugged in from the cacerts the hub wrote"
  start_istiods "${CLUSTERS[@]}"
  ok "istiod runs in ${CLUSTERS[*]}, each reading only its own cluster"
fi

step "deploying helloworld in cluster-1 (2 of 3 pods ready) and cluster-2 (3 ready), sleep in cluster-3"
for c in "${CLUSTERS[@]}"; do
  namespace_yaml "$NS" >"$WORK/manifests/$c-namespace.yaml"
  apply "$c" "$c-namespace"
done
# cluster-2's pods start before cluster-1's and become ready after them, so its own
# Service exists before the hub has anything to import there (see the step "echo now
# also runs in cluster-1" for a Service deployed where the hub already wrote a stub).
workload cluster-2 helloworld 5000 3 0
workload cluster-1 helloworld 5000 3 2
workload cluster-3 sleep 80 1 1
workload cluster-2 helloworld 5000 3 3
ok "namespace $NS everywhere; Services, Pods (service account = the app) and EndpointSlices"
expect "the hub counts ready endpoints per cluster and locality (federation services)" \
  "$(lines "$(service_row helloworld cluster-1 2)" "$(service_row helloworld cluster-2 3)" \
      "$(service_row sleep cluster-3 1)")" service_rows

step "checking what the hub wrote into each cluster"
expect "cluster-3 has 2 WorkloadEntries for helloworld: cluster-1's gateway (weight 2), cluster-2's (weight 3)" \
  "$(lines "$(entry cluster-1 helloworld 2 cluster-3)" "$(entry cluster-2 helloworld 3 cluster-3)")" \
  entries_in cluster-3 helloworld
expect "cluster-3 has a stub Service for helloworld (it runs none): same port, selecting the entries" \
  "$(stub helloworld 5000)" stubs_in cluster-3 helloworld
expect "cluster-3 has a DestinationRule for helloworld with locality LB and outlierDetection" \
  "$(rule helloworld)" rules_in cluster-3 helloworld
expect "cluster-1 has 1 WorkloadEntry for helloworld, cluster-2's (weight 3), never its own" \
  "$(entry cluster-2 helloworld 3 cluster-1)" entries_in cluster-1 helloworld
expect "cluster-2 has 1 WorkloadEntry for helloworld, cluster-1's (weight 2)" \
  "$(entry cluster-1 helloworld 2 cluster-2)" entries_in cluster-2 helloworld
for c in cluster-1 cluster-2; do
  expect "$c has no stub Service for helloworld (its own Service names the host)" none stubs_in "$c" helloworld
  expect "$c has the DestinationRule for helloworld" "$(rule helloworld)" rules_in "$c" helloworld
  expect "$c has a stub Service for sleep" "$(stub sleep 80)" stubs_in "$c" sleep
  expect "$c has 1 WorkloadEntry for sleep, cluster-3's gateway (weight 1)" \
    "$(entry cluster-3 sleep 1 "$c")" entries_in "$c" sleep
done
expect "cluster-3 has nothing for sleep (only local endpoints)" none hub_objects_for cluster-3 sleep
for c in "${CLUSTERS[@]}"; do
  expect "federation render --cluster $c names exactly the objects the hub wrote in $c" \
    "$(hub_objects_in "$c")" rendered_for "$c"
done
if [[ $E2E_PEERS == real ]]; then
  step "asking each member's istiod what a sidecar there gets (xDS)"
  WAIT_TIMEOUT=$PEERS_TIMEOUT expect \
    "a sidecar in cluster-3 gets helloworld at cluster-1's gateway (weight 2) and cluster-2's (weight 3), mTLS" \
    "$(lines "$(endpoint cluster-1 2)" "$(endpoint cluster-2 3)")" sidecar_endpoints cluster-3 helloworld 5000
  expect "a sidecar in cluster-1 gets sleep at cluster-3's gateway (weight 1), mTLS" \
    "$(endpoint cluster-3 1)" sidecar_endpoints cluster-1 sleep 80
  expect "a sidecar in cluster-2 gets sleep at cluster-3's gateway (weight 1), mTLS" \
    "$(endpoint cluster-3 1)" sidecar_endpoints cluster-2 sleep 80
  for c in cluster-1 cluster-2; do
    expect "$c's east-west gateway has an SNI chain on 15443 for helloworld, which runs there" \
      "$(sni helloworld 5000)" gateway_sni "$c" helloworld
  done
  expect "cluster-3's east-west gateway has an SNI chain on 15443 for sleep" "$(sni sleep 80)" gateway_sni cluster-3 sleep
fi

step "scaling helloworld in cluster-1 to zero ready pods"
workload cluster-1 helloworld 5000 3 0
expect "cluster-3 keeps only cluster-2's WorkloadEntry for helloworld: cluster-2 takes all traffic" \
  "$(entry cluster-2 helloworld 3 cluster-3)" entries_in cluster-3 helloworld
expect "cluster-2 has no WorkloadEntry for helloworld any more" none entries_in cluster-2 helloworld
expect "cluster-2 has no DestinationRule for helloworld (nothing remote to fail over to)" \
  none rules_in cluster-2 helloworld
expect "cluster-1 still has cluster-2's WorkloadEntry for helloworld" "$(entry cluster-2 helloworld 3 cluster-1)" \
  entries_in cluster-1 helloworld
if [[ $E2E_PEERS == real ]]; then
  expect "a sidecar in cluster-3 gets helloworld at cluster-2's gateway only (failover)" \
    "$(endpoint cluster-2 3)" sidecar_endpoints cluster-3 helloworld 5000
fi

step "scaling helloworld in cluster-1 back to 3 ready pods"
workload cluster-1 helloworld 5000 3 3
expect "cluster-3 has both WorkloadEntries for helloworld again, cluster-1's with weight 3" \
  "$(lines "$(entry cluster-1 helloworld 3 cluster-3)" "$(entry cluster-2 helloworld 3 cluster-3)")" \
  entries_in cluster-3 helloworld
expect "cluster-2 has cluster-1's WorkloadEntry for helloworld again (weight 3)" \
  "$(entry cluster-1 helloworld 3 cluster-2)" entries_in cluster-2 helloworld
expect "cluster-2 has the DestinationRule for helloworld again" "$(rule helloworld)" rules_in cluster-2 helloworld
if [[ $E2E_PEERS == real ]]; then
  expect "a sidecar in cluster-3 gets cluster-1's gateway back, weight 3" \
    "$(lines "$(endpoint cluster-1 3)" "$(endpoint cluster-2 3)")" sidecar_endpoints cluster-3 helloworld 5000
fi

step "echo runs in namespace $SHOP of cluster-3 only: the hub creates $SHOP where it imports echo"
workload cluster-3 echo 7070 1 1 "$SHOP"
for c in cluster-1 cluster-2; do
  expect "$c has the hub's Namespace $SHOP" "Namespace $SHOP" hub_namespaces_in "$c"
  expect "$c has a stub Service for echo in $SHOP" "$(stub echo 7070 "$SHOP")" stubs_in "$c" echo
  expect "$c has cluster-3's WorkloadEntry for echo" "$(entry cluster-3 echo 1 "$c" "$SHOP")" entries_in "$c" echo
done
expect "cluster-3 has no Namespace of the hub (it has $SHOP itself)" none hub_namespaces_in cluster-3
if [[ $E2E_PEERS == real ]]; then
  expect "a sidecar in cluster-1 gets echo at cluster-3's gateway (weight 1), mTLS" \
    "$(endpoint cluster-3 1)" sidecar_endpoints cluster-1 echo 7070 "$SHOP"
fi
workload cluster-3 echo 7070 1 0 "$SHOP"
# A real API server only marks a deleted namespace; the namespace controller (part of
# kube-controller-manager, which the launcher does not run) would then remove it.
gone=none
[[ $E2E_PEERS == real ]] && gone="Namespace $SHOP terminating"
for c in cluster-1 cluster-2; do
  expect "$c: with no echo pod ready, the hub removes everything it wrote for echo" \
    none hub_objects_for "$c" echo
  expect "$c: the hub deleted its Namespace $SHOP" "$gone" hub_namespaces_in "$c"
done

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

if [[ $E2E_PEERS == real ]]; then
  step "what each istiod signs and what istioctl analyze reports"
  kc cluster-1 -n istio-system get secret cacerts -o jsonpath='{.data.root-cert\.pem}' | base64 -d >"$WORK/mesh-root.pem"
  expect_now "the mesh root the hub pushed (cluster-1's root-cert.pem) is the one federation trust status reports" \
    "$(trust_roots)" "$(summarize pem <"$WORK/mesh-root.pem" | sed 's/^fingerprint=\([^ ]*\).*/\1/')"
  declare -A ACCOUNT=([cluster-1]=helloworld [cluster-2]=helloworld [cluster-3]=sleep)  # of a pod there
  for c in "${CLUSTERS[@]}"; do
    expect "$c's istiod signs a certificate for ${ACCOUNT[$c]} whose chain verifies against the mesh root" \
      "verified spiffe://cluster.local/ns/$NS/sa/${ACCOUNT[$c]}" ca_chain "$c" "${ACCOUNT[$c]}" "$WORK/mesh-root.pem"
  done
  for c in "${CLUSTERS[@]}"; do
    expect "istioctl analyze in $c: no error or warning about the hub's objects" none analyze_findings "$c"
  done
  note "resident memory: $(rss_report | paste -sd';' - | sed 's/;/; /g')"
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
workload cluster-1 helloworld 5000 3 1
expect "the restarted hub still follows changes: cluster-3 sees cluster-1's weight drop to 1" \
  "$(lines "$(entry cluster-1 helloworld 1 cluster-3)" "$(entry cluster-2 helloworld 3 cluster-3)")" \
  entries_in cluster-3 helloworld

step "removing cluster-2 (federation cluster remove)"
run "federation cluster remove cluster-2" fed cluster remove cluster-2
expect "the hub lists cluster-1 and cluster-3 only" \
  "$(for c in cluster-1 cluster-3; do
    echo "$c network=${NETWORK[$c]} region=${REGION[$c]} gateways=${GATEWAY[$c]}"
  done)" cluster_rows
expect "cluster-2 holds no object of the hub any more" none hub_objects_in cluster-2
expect "cluster-2's own objects are untouched" \
  "$(lines "EndpointSlice $NS/$(slice_of helloworld)" "Service $NS/helloworld")" own_objects_in cluster-2
expect "cluster-3's WorkloadEntries for helloworld: cluster-1's only" "$(entry cluster-1 helloworld 1 cluster-3)" \
  entries_in cluster-3 helloworld
expect "cluster-1 has nothing for helloworld (no other cluster runs it)" none hub_objects_for cluster-1 helloworld
expect "the hub no longer counts cluster-2's endpoints" \
  "$(lines "$(service_row helloworld cluster-1 1)" "$(service_row sleep cluster-3 1)" \
      "$(service_row "$SHOP/echo" cluster-3 0)")" service_rows
expect "cluster-1 and cluster-3 are synced" "$(synced_rows cluster-1 cluster-3)" sync_rows
if [[ $E2E_PEERS == real ]]; then
  expect "a sidecar in cluster-3 gets helloworld at cluster-1's gateway only (weight 1)" \
    "$(endpoint cluster-1 1)" sidecar_endpoints cluster-3 helloworld 5000
fi

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
  expect "the VM trusts the same root as the clusters" "$(cacerts_field cluster-1 roots)" vm_roots
  stop vm-agent
  expect_now "the agent exits cleanly on SIGTERM (status 0)" 0 "$STOP_STATUS"
  for c in cluster-1 cluster-3; do
    expect "$c drops the VM's WorkloadEntry once its heartbeats stop (grace ${VM_GRACE}s)" \
      none vm_entries_in "$c" helloworld
  done
  expect "the hub lists the VM as no longer alive" \
    "group=$NS/helloworld address=$VM_ADDRESS network=vm-net alive=no healthy=no revoked=no" vm_rows
fi

step "ratings, which runs in cluster-3, is deployed in cluster-1 too, where the hub had written its stub Service"
workload cluster-3 ratings 9080 1 1
expect "cluster-1 has the hub's stub Service for ratings" "$(stub ratings 9080)" stubs_in cluster-1 ratings
workload cluster-1 ratings 9080 1 1
expect "the hub counts ratings' ready endpoint in cluster-1 as well as in cluster-3" \
  "$(lines "$(service_row ratings cluster-1 1)" "$(service_row ratings cluster-3 1)")" \
  service_rows_of "$NS/ratings"
expect "cluster-1's Service ratings selects its own pods (app=ratings), not the hub's entries" \
  '{"app":"ratings"}' kc cluster-1 -n "$NS" get service ratings -o 'jsonpath={.spec.selector}'
expect "cluster-3 has cluster-1's WorkloadEntry for ratings" "$(entry cluster-1 ratings 1 cluster-3)" \
  entries_in cluster-3 ratings

step "passed: $CHECKS checks in ${SECONDS}s ($E2E_PEERS peers)"
