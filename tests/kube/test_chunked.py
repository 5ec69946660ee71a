"""Watch bodies read in bulk: the chunked framing undone by ``Dechunker``, and a
``KubeClient`` watch on a simulated cluster reading events that way."""

from __future__ import annotations

import yaml
import pytest

from federation.kube.chunked import Dechunker
from federation.kube.client import KubeClient
from kubesim import SimCluster
from tests.support.watching import configmaps_watched_in_bulk


def framed(*payloads: bytes, end: bool = True) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in payloads)
    return out + (b"0\r\n\r\n" if end else b"")


EVENTS = [b'{"type":"ADDED","n":1}\n', b'{"type":"MODIFIED","n":2}\n{"type":"MODIFIED",', b'"n":3}\n']


def test_a_body_split_anywhere_gives_the_same_payload():
    body = framed(*EVENTS)
    for cut in range(len(body) + 1):
        dechunker = Dechunker()
        got = dechunker.feed(body[:cut]) + dechunker.feed(body[cut:])
        assert got == b"".join(EVENTS), cut
        assert dechunker.done


def test_one_byte_at_a_time_and_extensions():
    body = b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    dechunker = Dechunker()
    assert b"".join(dechunker.feed(body[i:i + 1]) for i in range(len(body))) == b"hello world"
    assert dechunker.done


def test_the_payload_of_complete_chunks_only_until_the_last_chunk():
    dechunker = Dechunker()
    assert dechunker.feed(framed(b"abc", end=False) + b"4\r\nde") == b"abc"
    assert not dechunker.done
    assert dechunker.feed(b"fg\r\n0\r\n\r\n") == b"defg" and dechunker.done


@pytest.mark.parametrize("body, what", [
    (b"zz\r\nhello\r\n", "bad chunk size"),
    (b"0x5\r\nhello\r\n", "bad chunk size"),
    (b"5\r\nhelloXX", "not followed by CRLF"),
    (b"1" * 2000, "too long"),
])
def test_broken_framing_is_an_error_naming_it(body, what):
    with pytest.raises(ValueError, match=what):
        Dechunker().feed(body)


def test_a_watch_on_a_simulated_cluster_reads_its_events_in_bulk():
    sim = SimCluster("bulk", bookmark_interval=30.0).start()
    client = KubeClient("bulk", yaml.safe_dump(sim.kubeconfig_dict()))
    try:
        assert configmaps_watched_in_bulk(client, "default", "0") == [f"c{i}" for i in range(5)]
    finally:
        client.close()
        assert sim.stop(timeout=5.0)


def test_the_last_chunk_ends_the_body_only_with_its_empty_line_and_keeps_what_follows():
    dechunker = Dechunker()
    assert dechunker.feed(framed(b"abc", end=False) + b"0\r\n") == b"abc"
    assert not dechunker.done  # the empty line after the last chunk is not here yet
    assert dechunker.feed(b"\r\nHTTP/1.1 200") == b"" and dechunker.done
    assert dechunker.rest() == b"HTTP/1.1 200"
    with_trailer = Dechunker()
    assert with_trailer.feed(b"2\r\nok\r\n0\r\nX-Trailer: 1\r\n\r\nnext") == b"ok" and with_trailer.done
    assert with_trailer.rest() == b"next"
