#!/usr/bin/env bash
# End-to-end test on kind: a hub cluster running the federation service from
# deploy/, member clusters with Istio on their own networks, and Istio's
# helloworld answering across clusters through the hub's configuration.
#
#   bash e2e/kind.sh            # or: make e2e-kind
#   KEEP=1 bash e2e/kind.sh     # leave the clusters running afterwards
#   TOPOLOGY=three-members bash e2e/kind.sh
#
# Exit codes: 0 passed, 1 a step or assertion failed, 3 prerequisites missing.
# See e2e/README.md.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

case ${BASH_SOURCE[0]} in
  */*) HERE=${BASH_SOURCE[0]%/*} ;;
  *) HERE=. ;;
esac
HERE=$(cd "$HERE" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
TOPOLOGY=${TOPOLOGY:-two-networks}
KEEP=${KEEP:-0}

source "$HERE/lib/common.sh"
source "$HERE/lib/clusters.sh"
source "$HERE/lib/istio.sh"
source "$HERE/lib/hub.sh"
source "$HERE/lib/apps.sh"

# Checked before anything else is touched.
require_bash 4 4
require_tools docker kind kubectl istioctl openssl
[[ -f $SHARED/gateway-api/gateways.yaml ]] ||
  die "no Gateway API CRDs at $SHARED/gateway-api (set SHARED to the shared/ directory)" "$E2E_EXIT_PREREQ"
TOPOLOGY_FILE="$ROOT/kind-configs/topologies/$TOPOLOGY.txt"
[[ -f $TOPOLOGY_FILE ]] || die "unknown TOPOLOGY $TOPOLOGY (see kind-configs/topologies/)" "$E2E_EXIT_PREREQ"

MEMBERS=()
declare -A NETWORK_OF=()
while read -r cluster network _; do
  [[ -z $cluster || $cluster == \#* ]] && continue
  MEMBERS+=("$cluster")
  NETWORK_OF[$cluster]=$network
done <"$TOPOLOGY_FILE"
((${#MEMBERS[@]} >= 2)) || die "topology $TOPOLOGY needs at least two members"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mesh-federation-e2e.XXXXXX")

finish() {
  local rc=$?
  trap - EXIT
  if ((rc != 0)); then
    printf '\n==> FAILED (exit %s); diagnostics follow\n' "$rc" >&2
    dump_hub_diagnostics
  fi
  if [[ $KEEP == 1 ]]; then
    log "KEEP=1: leaving clusters ${CREATED_CLUSTERS[*]:-} (work files in $WORK)"
  else
    delete_created_clusters
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

log "topology $TOPOLOGY: hub + ${MEMBERS[*]}"
for member in "${MEMBERS[@]}"; do info "$member on ${NETWORK_OF[$member]}"; done

# --- clusters ---------------------------------------------------------------
build_image
index=0
for cluster in "$HUB" "${MEMBERS[@]}"; do
  create_cluster "$cluster" "$ROOT/kind-configs/$cluster.yaml"
  install_metallb "$cluster" "$index"
  index=$((index + 1))
done
load_image "$HUB"

# Members that share a network need each other's pod IPs routed.
declare -A FLAT=()
for member in "${MEMBERS[@]}"; do
  FLAT[${NETWORK_OF[$member]}]+="$member "
done
for network in "${!FLAT[@]}"; do
  read -r -a same <<<"${FLAT[$network]}"
  if ((${#same[@]} > 1)); then
    log "routing pod networks between ${same[*]} (flat network $network)"
    connect_flat_network "${same[@]}"
  fi
done

# --- members, hub, registration -------------------------------------------------
# Members run Istio before they join, as existing clusters would; the shared
# root then arrives as cacerts and istiod and the gateway restart onto it.
for member in "${MEMBERS[@]}"; do
  prepare_member "$member" "${NETWORK_OF[$member]}"
  install_istio "$member" "${NETWORK_OF[$member]}"
done
deploy_hub
for member in "${MEMBERS[@]}"; do
  register_member "$member"
done
for member in "${MEMBERS[@]}"; do
  wait_for_cacerts "$member"
  restart_istio "$member"
done

log "checking that every member hands its workloads the same mesh root"
wait_until "one mesh root in ${MEMBERS[*]}" 120 same_root "${MEMBERS[@]}"

# --- applications and traffic ---------------------------------------------------
deploy_apps "${MEMBERS[0]}" v1
deploy_apps "${MEMBERS[1]}" v2
for member in "${MEMBERS[@]:2}"; do deploy_apps "$member" none; done

expect_traffic both "${MEMBERS[@]}"
scale_helloworld "${MEMBERS[0]}" v1 0
expect_traffic only-v2 "${MEMBERS[@]}"
scale_helloworld "${MEMBERS[0]}" v1 1
expect_traffic both "${MEMBERS[@]}"

log "PASSED: every member reaches both versions, fails over to v2 when v1 is gone, and recovers"
