"""The hub's gRPC surface: the Admin service, its TLS, authentication and error mapping.

``server.ApiServer`` serves the generated services (``gen/``, from ``protos/``) over
TLS with per-service authentication; ``admin.AdminServicer`` adapts calls to the
``control.Control`` protocol the hub implements; ``client.AdminClient`` is the
other end, used by the command line. ``servers`` builds every gRPC server of the hub
(this API's and onboarding's); ``codes`` maps errors to status codes and back, the
one client-side translation (``client_error``) included.
"""
