"""Export and import scope as the ClusterWatcher reads it from a simulated cluster:
per-Service export labels over namespace labels over the mode, the import-selector
annotation, and registration labels on the ClusterInfo."""

from __future__ import annotations

import pytest

from federation.model import ClusterChange, ServiceChange
from federation.model.ids import ServiceKey
from tests.sources.support import fast_settings, namespace, service, service_export
from tests.support import wait_for

EXPORT = "federation.mesh/export"
SELECTOR = "federation.mesh/import-selector"


def key(name: str, ns: str = "on") -> ServiceKey:
    return ServiceKey(ns, name)


def seed(sim) -> None:
    """Namespaces opted in (``on``), out (``off``) and silent (``plain``), each with
    a Service opted in, one opted out and one that says nothing, and one MCS
    ServiceExport for each namespace's silent Service."""
    for ns, value in (("on", "true"), ("off", "false"), ("plain", None)):
        sim.apply(namespace(ns, {EXPORT: value} if value else {}))
        sim.apply(service(ns, "in", labels={EXPORT: "true"}))
        sim.apply(service(ns, "out", labels={EXPORT: "false"}))
        sim.apply(service(ns, "silent"))
        sim.apply(service(ns, "exported"))
        sim.apply(service_export(ns, "exported"))
        sim.apply(service_export(ns, "out"))  # false beats a ServiceExport


# what each mode federates: the Service's own label, then its namespace's, then the mode
EXPECTED = {
    "all": {key("in"), key("silent"), key("exported"), key("in", "off"), key("in", "plain"),
            key("silent", "plain"), key("exported", "plain")},
    "namespace-label": {key("in"), key("silent"), key("exported"), key("in", "off"), key("in", "plain")},
    "service-export": {key("in"), key("silent"), key("exported"), key("in", "off"), key("in", "plain"),
                       key("exported", "plain")},
}


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_the_services_own_label_beats_its_namespaces_which_beats_the_mode(make_sim, watch, mode):
    sim = make_sim()
    seed(sim)
    _, sink = watch(sim, fast_settings(export_mode=mode))
    sink.wait_state("synced")
    assert set(sink.services()) == EXPECTED[mode]


def test_opting_one_service_out_and_in_again_changes_only_that_service(make_sim, watch):
    sim = make_sim()
    seed(sim)
    _, sink = watch(sim)
    sink.wait_state("synced")
    mark = sink.mark()
    sim.apply(service("plain", "silent", labels={EXPORT: "false"}))
    changes = wait_for(lambda: sink.service_changes(mark), what="the opted-out service withdrawn")
    assert changes == [ServiceChange("c1", key("silent", "plain"), None)]
    mark = sink.mark()
    sim.apply(service("plain", "silent", labels={EXPORT: "true"}))
    changes = wait_for(lambda: sink.service_changes(mark), what="the service back")
    assert [c.key for c in changes] == [key("silent", "plain")] and changes[0].service is not None


def test_the_import_selector_annotation_reaches_the_service_and_its_change_is_one_service_change(
        make_sim, watch):
    sim = make_sim()
    sim.apply(namespace("shop"))
    sim.apply(service("shop", "reviews", annotations={SELECTOR: " env=prod "}))
    sim.apply(service("shop", "ratings"))
    _, sink = watch(sim)
    sink.wait_state("synced")
    services = sink.services()
    assert services[key("reviews", "shop")].import_selector == "env=prod"
    assert services[key("ratings", "shop")].import_selector == ""  # every cluster imports it
    mark = sink.mark()
    sim.apply(service("shop", "reviews", annotations={SELECTOR: "env in (prod,staging)"}))
    changes = wait_for(lambda: sink.service_changes(mark), what="the new selector")
    assert [(c.key, c.service.import_selector) for c in changes] == [
        (key("reviews", "shop"), "env in (prod,staging)")]
    assert not sink.cluster_changes(mark)


def test_new_registration_labels_emit_only_the_cluster_info(make_sim, watch):
    sim = make_sim()
    sim.apply(namespace("shop"))
    sim.apply(service("shop", "reviews"))
    watcher, sink = watch(sim, fast_settings(labels=(("env", "dev"),)))
    sink.wait_state("synced")
    assert sink.info().labels == (("env", "dev"),)
    mark = sink.mark()
    watcher.set_labels((("env", "prod"), ("tier", "gold")))
    changes = wait_for(lambda: sink.changes(mark), what="the new ClusterInfo")
    assert [type(c) for c in changes] == [ClusterChange]
    assert changes[0].info.labels == (("env", "prod"), ("tier", "gold"))


def test_a_selector_that_does_not_parse_is_passed_on_and_logged_once(make_sim, watch, caplog):
    sim = make_sim()
    sim.apply(namespace("shop"))
    sim.apply(service("shop", "reviews", annotations={SELECTOR: "env in prod"}))
    _, sink = watch(sim)
    with caplog.at_level("WARNING", logger="federation.sources.cluster_watching"):
        sink.wait_state("synced")
        assert sink.services()[key("reviews", "shop")].import_selector == "env in prod"  # render imports it nowhere
        mark = sink.mark()
        sim.apply(service("shop", "reviews", annotations={SELECTOR: "env in prod"}, labels={"v": "2"}))
        wait_for(lambda: sink.service_changes(mark), what="the relabelled service")
    warnings = [r for r in caplog.records if "import selector does not parse" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].fields["selector"] == "env in prod"
