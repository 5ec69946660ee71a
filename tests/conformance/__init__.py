"""Conformance: one suite run against the simulated API server and a real kube-apiserver.

Every test takes the ``api`` fixture, parametrized over both servers, and
asserts behaviour the hub (``federation.kube``, the reflector, the pusher)
and kubectl rely on. Where the simulator differs on purpose, its docstring
(``kubesim``) says so and the test skips that case for the simulator.
"""
