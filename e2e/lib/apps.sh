# shellcheck shell=bash
# The sample applications and the traffic assertions.
# Sourced by e2e/kind.sh after lib/common.sh and lib/clusters.sh; uses ROOT.

APP_NS=sample
REQUESTS=${REQUESTS:-20}
CONVERGE_TIMEOUT=${CONVERGE_TIMEOUT:-240}

# deploy_apps NAME VERSION — helloworld's Service everywhere, the Deployment of
# VERSION (v1, v2, or "none"), and the sleep client.
deploy_apps() {
  local name=$1 version=$2 context
  context=$(ctx "$name")
  log "deploying helloworld ${version} and sleep in $name"
  kubectl --context "$context" create namespace "$APP_NS" --dry-run=client -o yaml |
    kubectl --context "$context" apply -f - >/dev/null
  kubectl --context "$context" label namespace "$APP_NS" --overwrite istio-injection=enabled >/dev/null
  kubectl --context "$context" -n "$APP_NS" apply -f "$ROOT/e2e/manifests/helloworld.yaml" -l service=helloworld
  if [[ $version != none ]]; then
    kubectl --context "$context" -n "$APP_NS" apply -f "$ROOT/e2e/manifests/helloworld.yaml" -l "version=$version"
    kubectl --context "$context" -n "$APP_NS" rollout status "deployment/helloworld-$version" --timeout=300s
  fi
  kubectl --context "$context" -n "$APP_NS" apply -f "$ROOT/e2e/manifests/sleep.yaml"
  kubectl --context "$context" -n "$APP_NS" rollout status deployment/sleep --timeout=300s
}

# versions_seen NAME — REQUESTS calls from NAME's sleep pod; prints one word per
# answer: v1, v2, or "error".
versions_seen() {
  kubectl --context "$(ctx "$1")" -n "$APP_NS" exec deploy/sleep -c sleep -- sh -c "
    i=0
    while [ \$i -lt $REQUESTS ]; do
      i=\$((i + 1))
      curl -sS --max-time 3 http://helloworld.$APP_NS:5000/hello 2>/dev/null || echo error
    done" 2>/dev/null | sed -n 's/.*version: \(v[0-9]*\).*/\1/p; s/^error$/error/p'
}

# reaches NAME EXPECTATION — true when the answers from NAME match: "both"
# (v1 and v2 answered) or "only-v2" (every request answered by v2).
reaches() {
  local name=$1 expectation=$2 answers v1 v2 total
  answers=$(versions_seen "$name")
  v1=$(grep -cx v1 <<<"$answers" || true)
  v2=$(grep -cx v2 <<<"$answers" || true)
  total=$(grep -c . <<<"$answers" || true)
  info "$name: v1=$v1 v2=$v2 other=$((total - v1 - v2)) of $REQUESTS"
  case $expectation in
    both) ((v1 > 0 && v2 > 0)) ;;
    only-v2) ((v2 == REQUESTS)) ;;
    *) die "unknown expectation $expectation" ;;
  esac
}

# expect_traffic EXPECTATION NAME... — waits (bounded) until every NAME sees it.
expect_traffic() {
  local expectation=$1 name
  shift
  for name in "$@"; do
    log "expecting $expectation from $name"
    wait_until "$expectation from $name" "$CONVERGE_TIMEOUT" reaches "$name" "$expectation"
  done
}

# scale_helloworld NAME VERSION REPLICAS
scale_helloworld() {
  local name=$1 version=$2 replicas=$3
  log "scaling helloworld-$version in $name to $replicas"
  kubectl --context "$(ctx "$name")" -n "$APP_NS" scale "deployment/helloworld-$version" --replicas="$replicas"
  if ((replicas > 0)); then
    kubectl --context "$(ctx "$name")" -n "$APP_NS" rollout status "deployment/helloworld-$version" --timeout=300s
  else
    wait_until "no helloworld-$version pods in $name" 120 no_pods "$name" "app=helloworld,version=$version"
  fi
}

# no_pods NAME SELECTOR
no_pods() {
  local pods
  pods=$(kubectl --context "$(ctx "$1")" -n "$APP_NS" get pods -l "$2" -o name) || return 1
  [[ -z $pods ]]
}
