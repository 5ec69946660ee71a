"""``federation dashboard``: a read-only web page on the operator's machine, like
``istioctl dashboard``, fed by the authenticated admin API.

``serving`` holds the admin token and answers the browser on loopback (the browser
never sees the token); ``state`` turns the hub's answers into the page's view (pure);
``latency`` reads propagation latency from the hub's metrics; ``page`` is the page,
which polls ``/api/state`` and draws the clusters grouped by network.
"""
