"""Fault injection with figures (``make faults``): the hub as its own process on a
real etcd, simulated members over HTTPS, and one fault per scenario; each is
judged against what the hub itself renders for every cluster."""
