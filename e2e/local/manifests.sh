# shellcheck shell=bash
# YAML for the simulated member clusters, shaped like what a real cluster with
# Istio and Istio's samples holds; e2e/local.sh writes it to files and applies
# it with kubectl. Sourced; every function prints one YAML stream.

# member_yaml NETWORK REGION ZONE NODE — what a member has before it joins:
# istio-system labelled with its network, a Node with its locality, and the
# east-west gateway Service (its LoadBalancer address is set separately, through
# the status subresource, as a cloud controller would).
member_yaml() {
  local network=$1 region=$2 zone=$3 node=$4
  cat <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
  labels:
    topology.istio.io/network: $network
---
apiVersion: v1
kind: Node
metadata:
  name: $node
  labels:
    kubernetes.io/hostname: $node
    topology.kubernetes.io/region: $region
    topology.kubernetes.io/zone: $zone
spec: {}
---
apiVersion: v1
kind: Service
metadata:
  name: istio-eastwestgateway
  namespace: istio-system
  labels:
    app: istio-eastwestgateway
    istio: eastwestgateway
    topology.istio.io/network: $network
spec:
  type: LoadBalancer
  selector:
    istio: eastwestgateway
  ports:
  - {name: status-port, port: 15021, targetPort: 15021, protocol: TCP}
  - {name: tls, port: 15443, targetPort: 15443, protocol: TCP}
  - {name: tls-istiod, port: 15012, targetPort: 15012, protocol: TCP}
  - {name: tls-webhook, port: 15017, targetPort: 15017, protocol: TCP}
EOF
}

# gateway_status_json ADDRESS — the LoadBalancer status of the east-west gateway.
gateway_status_json() {
  printf '{"status":{"loadBalancer":{"ingress":[{"ip":"%s"}]}}}' "$1"
}

namespace_yaml() {
  cat <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $1
  labels:
    istio-injection: enabled
EOF
}

# service_yaml NAMESPACE NAME PORT — a Service selecting app=NAME, one http port.
service_yaml() {
  local ns=$1 name=$2 port=$3
  cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: $name
  namespace: $ns
  labels:
    app: $name
    service: $name
spec:
  selector:
    app: $name
  ports:
  - {name: http, port: $port, targetPort: $port, protocol: TCP}
EOF
}

# endpoints_yaml NAMESPACE SERVICE SLICE PORT NODE ZONE ADDRESS_PREFIX TOTAL READY —
# the Pods (service account SERVICE, as a Deployment's pod template names it)
# and the EndpointSlice of TOTAL pods of which the first READY are ready: what
# the kubelet and the endpoint slice controller write while a Deployment scales.
endpoints_yaml() {
  local ns=$1 service=$2 slice=$3 port=$4 node=$5 zone=$6 prefix=$7 total=$8 ready=$9 i state
  for ((i = 1; i <= total; i++)); do
    cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $slice-$i
  namespace: $ns
  labels: {app: $service}
spec:
  nodeName: $node
  serviceAccountName: $service
  containers: [{name: app, image: app, ports: [{containerPort: $port}]}]
---
EOF
  done
  cat <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $slice
  namespace: $ns
  labels:
    kubernetes.io/service-name: $service
    endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
addressType: IPv4
ports:
- {name: http, port: $port, protocol: TCP}
EOF
  if ((total == 0)); then
    echo "endpoints: []"
    return
  fi
  echo "endpoints:"
  for ((i = 1; i <= total; i++)); do
    state=false
    ((i <= ready)) && state=true
    cat <<EOF
- addresses: ["$prefix.$i"]
  conditions: {ready: $state, serving: $state, terminating: false}
  nodeName: $node
  zone: $zone
  targetRef: {kind: Pod, namespace: $ns, name: $slice-$i}
EOF
  done
}

# failover_policy_yaml NAMESPACE SERVICE FROM_REGION TO_REGION — a hub resource.
failover_policy_yaml() {
  local ns=$1 service=$2 from=$3 to=$4
  cat <<EOF
apiVersion: federation.mesh/v1alpha1
kind: FailoverPolicy
metadata:
  name: $service
  namespace: $ns
spec:
  selector: {namespace: $ns, name: $service}
  failover:
  - {from: $from, to: $to}
  outlierDetection: {consecutive5xxErrors: 3, interval: 2s, baseEjectionTime: 15s}
EOF
}

# workload_group_yaml NAMESPACE SERVICE SERVICE_ACCOUNT NETWORK LOCALITY PORT —
# the hub resource VMs of SERVICE enroll into (version v3: neither cluster's).
workload_group_yaml() {
  local ns=$1 service=$2 sa=$3 network=$4 locality=$5 port=$6
  cat <<EOF
apiVersion: federation.mesh/v1alpha1
kind: WorkloadGroup
metadata:
  name: $service
  namespace: $ns
spec:
  labels: {app: $service, version: v3}
  serviceAccount: $sa
  network: $network
  locality: $locality
  ports:
  - {name: http, number: $port, protocol: HTTP}
EOF
}
