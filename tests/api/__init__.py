"""Tests of the hub gRPC API over real TLS."""
