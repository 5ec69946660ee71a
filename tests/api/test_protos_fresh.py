"""The committed generated code matches what protos/ compiles to today."""

import pytest

from tools import protogen

STALE = "run `make protos` and commit federation/api/gen"


@pytest.fixture(scope="module")
def fresh():
    if not protogen.PROTO_ROOT.is_dir():
        pytest.skip(f"no proto sources at {protogen.PROTO_ROOT}")
    return protogen.render()


def test_generated_code_is_fresh(fresh):
    committed = protogen.read_generated()
    assert not (missing := sorted(set(fresh) - set(committed))), f"missing generated files {missing}: {STALE}"
    assert not (extra := sorted(set(committed) - set(fresh))), f"generated files without a proto {extra}: {STALE}"
    stamped = {protogen.header_version(text) for rel, text in committed.items() if "_pb2" in rel}
    if stamped != {protogen.tools_version()}:
        # Another grpcio-tools writes other text for the same protos: compare the protos' content only.
        fresh_desc, committed_desc = (protogen.serialized_descriptors(f) for f in (fresh, committed))
        stale = sorted(rel for rel in fresh_desc if fresh_desc[rel] != committed_desc.get(rel))
        assert not stale, f"federation/api/gen/{stale[0]} is stale: {STALE}"
        return
    for rel, text in fresh.items():
        assert committed[rel] == text, f"federation/api/gen/{rel} is stale: {STALE}"


def test_stale_file_is_detected_and_named(fresh, tmp_path):
    protogen.write(fresh, tmp_path)
    assert protogen.read_generated(tmp_path) == fresh
    target = tmp_path / "federation/v1/admin_pb2.py"
    target.write_text(target.read_text().replace("proto3", "proto2"))
    changed = protogen.write(fresh, tmp_path)
    assert changed == ["federation/v1/admin_pb2.py"]
    (tmp_path / "federation/v1/old_pb2.py").write_text("# left over\n")
    assert protogen.write(fresh, tmp_path) == ["federation/v1/old_pb2.py"]
    assert not (tmp_path / "federation/v1/old_pb2.py").exists()


def test_generated_modules_import_from_the_package():
    from federation.api.gen.federation.v1 import admin_pb2, admin_pb2_grpc

    assert admin_pb2.Cluster.__module__ == "federation.api.gen.federation.v1.admin_pb2"
    assert admin_pb2_grpc.federation_dot_v1_dot_admin__pb2 is admin_pb2
    assert "from federation.v1 " not in (protogen.OUT_DIR / "federation/v1/admin_pb2_grpc.py").read_text()
