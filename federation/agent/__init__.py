"""The VM side: ``federation-agent`` enrolls a VM with the hub, writes the files
Istio's VM sidecar reads, then heartbeats and renews its certificate.

``credentials`` (keys, CSRs, certificate facts) and ``files`` (the output
directory) are plain data; ``connection`` is the only gRPC module; ``running``
holds the agent's loop; ``cli`` is the command line.
"""
