"""Every store key comes from ``federation.store.keys``, and its strings never change:
what an older hub stored must stay readable."""

import pathlib
import re

from federation.store.keys import Keys, TrustKeys

ROOT = pathlib.Path(__file__).resolve().parents[2] / "federation"


def test_the_layout_is_what_older_hubs_wrote():
    assert (Keys.cluster("east"), Keys.cluster_id("uid-1"), Keys.REMOVING, Keys.STATUS, Keys.HUB_ID) == (
        "clusters/east", "cluster-ids/uid-1", "removing/", "status/", "hub/identity")
    assert Keys.policy("FailoverPolicy", "shop", "reviews") == "policies/FailoverPolicy/shop/reviews"
    assert Keys.policies("WorkloadGroup") == "policies/WorkloadGroup/"
    assert (Keys.SUMMARY_SERVICES, Keys.SUMMARY_CLUSTERS) == ("summaries/services/", "summaries/clusters/")
    assert Keys.replica("r1") == "replicas/r1"
    assert (Keys.vm_token("ab"), Keys.vm_record("vm-1"), Keys.vm_serial("0f"), Keys.vm_alive("vm-1")) == (
        "vms/tokens/ab", "vms/records/vm-1", "vms/serials/0f", "vms/alive/vm-1")
    trust = TrustKeys()
    assert (trust.rotation, trust.root("r"), trust.intermediate("east"), trust.workload_issuer) == (
        "trust/rotation", "trust/roots/r", "trust/intermediates/east", "trust/hub/workload-intermediate")
    assert trust.confirmation("rot", 2, "cluster", "east") == "trust/confirmations/rot/2/cluster/east"


def test_no_other_module_spells_a_key_prefix():
    prefixes = re.compile(r"""["'](clusters|cluster-ids|removing|policies|status|summaries|replicas|vms|trust)/""")
    spelled = [str(path.relative_to(ROOT)) for path in ROOT.rglob("*.py")
               if path.name != "keys.py" and "/gen/" not in str(path) and prefixes.search(path.read_text())]
    assert spelled == []
