"""Code generated from Istio's protos by ``python -m peers.protogen``; do not edit."""
