"""The VM side: ``federation-agent`` enrolls a VM with the hub, writes the files
Istio's VM sidecar reads, then heartbeats and renews its certificate."""
