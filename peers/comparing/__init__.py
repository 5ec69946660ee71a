"""The hub path side by side with Istio's own multi-primary, on real peers (``make bench-multiprimary``).

One topology (``clusters`` members, each its own network, ``services`` services
in every member with ``pods`` pods each), run twice on fresh fleets, one mode
after the other so they never compete for the CPU:

* ``hub``: each istiod reads only its own cluster; the hub (``federation serve``
  in its own process, memory store) watches the members and writes into them;
* ``multi-primary``: no hub; every istiod is given a remote secret for every
  other member, as ``istioctl create-remote-secret`` makes them
  (``multiprimary``), and reads every cluster itself.

Measured per mode (``measuring``): availability changes in a cluster A (a
service's pods and EndpointSlice from N ready to 0 and back) until an xDS probe,
connected as a sidecar to cluster B's istiod, receives the new endpoints (on the
stream, per change bounded); istiod RSS and CPU seconds per member; the WATCH
requests each kube-apiserver serves. ``reporting`` turns both into the ratios
the issue asks for and a table; ``python -m peers.comparing`` writes the JSON.
"""
