"""One translation of a failed call for every client of the hub: the admin CLI's
clients and the VM agent agree on what is transient."""

import grpc
import pytest

from federation import errors
from federation.agent.connection import translate
from federation.api.codes import TRANSIENT_CODES, client_error


class Failed(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str = ""):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


@pytest.mark.parametrize("code", sorted(grpc.StatusCode, key=lambda c: c.name), ids=lambda c: c.name)
def test_admin_client_and_agent_agree_on_every_code(code):
    failed = Failed(code, "details")
    admin = client_error(failed, "Status", "hub:8443", 10.0)
    session = translate(failed, "Heartbeat", "hub:8444", timeout=10.0)
    assert type(admin) is type(session)
    assert isinstance(admin, errors.Transient) == (code in TRANSIENT_CODES)


def test_a_connection_lost_mid_call_is_transient():
    assert {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
            grpc.StatusCode.UNKNOWN} == TRANSIENT_CODES
    error = client_error(Failed(grpc.StatusCode.UNKNOWN, "Stream removed"), "Status", "hub:8443")
    assert isinstance(error, errors.Transient) and "Stream removed" in str(error)


def test_enrolling_still_tells_a_wrong_port_from_a_hub_that_is_down():
    wrong = translate(Failed(grpc.StatusCode.UNAVAILABLE, "WRONG_VERSION_NUMBER"), "Enroll", "hub:9090",
                      enrolling=True)
    assert type(wrong) is errors.EndpointMismatch and wrong.hint
    down = translate(Failed(grpc.StatusCode.UNAVAILABLE, "connection refused"), "Enroll", "hub:9090",
                     enrolling=True)
    assert type(down) is errors.Transient
