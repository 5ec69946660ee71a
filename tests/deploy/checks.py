"""Static checks of the deployment material, importable by tests and runnable by hand.

Each check returns a list of problems (empty: good), so a test can run it on the
real tree and on a deliberately broken copy and assert both ways:

- every kustomization under ``deploy/`` renders with ``kubectl kustomize``;
- every rendered object (and every plain manifest under ``e2e/manifests``)
  validates strictly against the Kubernetes schemas of ``kubernetes-validate``,
  Istio / Gateway API / MCS objects against their CRDs' openAPIV3Schema from
  ``../shared`` (with unknown fields rejected, as the API server's strict field
  validation does);
- kind cluster configs parse and use distinct pod and service subnets;
- shell scripts pass ``bash -n`` and shellcheck;
- the Containerfile ends as a non-root user.

``python -m tests.deploy.checks`` runs them all and prints the problems.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import jsonschema
import kubernetes_validate
import yaml

from tests.support import REPO_ROOT, SHARED_DIR, has_crds

ROOT = REPO_ROOT
KUBERNETES_VERSION = "1.32"
COMMAND_TIMEOUT = 120  # seconds for one kubectl/shellcheck run

# CRD files in ../shared; objects of these groups are checked against them.
CRD_FILES = ("istio/crds.gen.yaml", "gateway-api/gateways.yaml", "gateway-api/gatewayclasses.yaml",
             "mcs-api/serviceexports.yaml", "mcs-api/serviceimports.yaml")
CRD_GROUPS = {"networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io",
              "gateway.networking.k8s.io", "multicluster.x-k8s.io"}
# Groups with no schema available offline; their objects are reported, not validated.
UNCHECKED_GROUPS = {
    "install.istio.io": "IstioOperator is read by istioctl, which validates it itself",
    "metallb.io": "MetalLB's CRDs are not in ../shared",
}


class CheckError(Exception):
    """A check could not run (missing tool, unreadable input)."""


# --- kustomize rendering ------------------------------------------------------
def find_kustomizations(deploy_dir: Path) -> list[Path]:
    """Every directory under ``deploy_dir`` that holds a kustomization file."""
    names = ("kustomization.yaml", "kustomization.yml", "Kustomization")
    return sorted({p.parent for name in names for p in deploy_dir.rglob(name)})


def render(kustomization_dir: Path, kubectl: str = "kubectl") -> list[dict]:
    """Objects that ``kubectl kustomize`` renders; CheckError when it fails."""
    try:
        proc = subprocess.run([kubectl, "kustomize", str(kustomization_dir)], capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CheckError(f"kubectl kustomize {kustomization_dir}: {exc}") from exc
    if proc.returncode != 0:
        raise CheckError(f"kubectl kustomize {kustomization_dir} failed: {proc.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


# --- schema validation ----------------------------------------------------------
@lru_cache(maxsize=4)
def crd_schemas(shared_dir: Path) -> dict[tuple[str, str, str], dict]:
    """(group, version, kind) -> openAPIV3Schema, from the CRDs under ``shared_dir``."""
    schemas: dict[tuple[str, str, str], dict] = {}
    for name in CRD_FILES:
        path = shared_dir / name
        if not path.exists():
            raise CheckError(f"{path} is missing")
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                schemas[(spec["group"], version["name"], spec["names"]["kind"])] = \
                    version["schema"]["openAPIV3Schema"]
    return schemas


def unknown_fields(obj: object, schema: dict, path: str = "") -> list[str]:
    """Fields the structural schema does not declare (the API server's strict validation)."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found: list[str] = []
    if isinstance(obj, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, value in obj.items():
            if not path and key in ("apiVersion", "kind", "metadata"):
                continue  # every object has these, whether the schema lists them or not
            if props is not None and key in props:
                found += unknown_fields(value, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                found += unknown_fields(value, extra, f"{path}.{key}")
            elif props is not None and extra is not True:
                found.append(f"{path}.{key}" if path else key)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(obj):
            found += unknown_fields(item, schema["items"], f"{path}[{i}]")
    return found


def validate_object(obj: dict, shared_dir: Path | None, version: str = KUBERNETES_VERSION) -> list[str]:
    """Problems of one object: schema violations or an unknown kind."""
    if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
        return [f"not a Kubernetes object: {str(obj)[:80]}"]
    name = f"{obj['kind']} {obj.get('metadata', {}).get('namespace', '')}/" \
           f"{obj.get('metadata', {}).get('name', '?')}"
    group, _, api_version = obj["apiVersion"].rpartition("/")
    if group in UNCHECKED_GROUPS:
        return []
    if group in CRD_GROUPS:
        if shared_dir is None:
            return [f"{name}: no CRD schemas to check {obj['apiVersion']} against"]
        schema = crd_schemas(shared_dir).get((group, api_version, obj["kind"]))
        if schema is None:
            return [f"{name}: no CRD serves {obj['apiVersion']} {obj['kind']}"]
        problems = [f"{name}: {err.json_path}: {err.message}"
                    for err in jsonschema.Draft7Validator(schema).iter_errors(obj)]
        problems += [f"{name}: unknown field {field}" for field in unknown_fields(obj, schema)]
        return problems
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        return [f"{name}: {where}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: no Kubernetes {version} schema for {obj['apiVersion']} {obj['kind']}"]
    return []


def check_deploy_tree(deploy_dir: Path, shared_dir: Path | None, kubectl: str = "kubectl") -> list[str]:
    """Render every kustomization under ``deploy_dir`` and validate what it renders."""
    kustomizations = find_kustomizations(deploy_dir)
    if not kustomizations:
        return [f"no kustomization under {deploy_dir}"]
    problems: list[str] = []
    for directory in kustomizations:
        label = directory.relative_to(deploy_dir.parent)
        try:
            objects = render(directory, kubectl)
        except CheckError as exc:
            problems.append(str(exc))
            continue
        if not objects:
            problems.append(f"{label}: renders nothing")
        problems += [f"{label}: {p}" for obj in objects for p in validate_object(obj, shared_dir)]
    return problems


def check_manifest_files(paths: Iterable[Path], shared_dir: Path | None) -> list[str]:
    """Validate plain (non-kustomize) manifest files."""
    problems: list[str] = []
    for path in paths:
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: not valid YAML: {exc}")
            continue
        problems += [f"{path.name}: {p}" for doc in docs for p in validate_object(doc, shared_dir)]
    return problems


# --- kind cluster configs -----------------------------------------------------------
def check_kind_configs(paths: Iterable[Path]) -> list[str]:
    """kind ``Cluster`` configs with pairwise distinct, non-overlapping subnets."""
    problems: list[str] = []
    subnets: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = []
    for path in sorted(paths):
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: not valid YAML: {exc}")
            continue
        if not isinstance(doc, dict) or doc.get("kind") != "Cluster" \
                or doc.get("apiVersion") != "kind.x-k8s.io/v1alpha4":
            problems.append(f"{path.name}: not a kind.x-k8s.io/v1alpha4 Cluster")
            continue
        if not doc.get("name"):
            problems.append(f"{path.name}: no cluster name")
        if not doc.get("nodes"):
            problems.append(f"{path.name}: no nodes")
        networking = doc.get("networking") or {}
        for key in ("podSubnet", "serviceSubnet"):
            try:
                net = ipaddress.ip_network(str(networking.get(key)))
            except ValueError:
                problems.append(f"{path.name}: networking.{key} is not a subnet: {networking.get(key)!r}")
                continue
            for other_label, other in subnets:
                if net.version == other.version and net.overlaps(other):
                    problems.append(f"{path.name}: {key} {net} overlaps {other_label} {other}")
            subnets.append((f"{path.name} {key}", net))
    return problems


# --- shell scripts ----------------------------------------------------------------
def shell_scripts(root: Path) -> list[Path]:
    skip = {".git", ".venv", "node_modules", "build", ".demo"}
    return sorted(p for p in root.rglob("*.sh") if not skip.intersection(p.relative_to(root).parts))


def check_bash_syntax(paths: Iterable[Path]) -> list[str]:
    problems = []
    for path in paths:
        proc = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT, check=False)
        if proc.returncode != 0:
            problems.append(f"{path}: bash -n: {proc.stderr.strip()}")
    return problems


def check_shellcheck(paths: Iterable[Path], shellcheck: str = "shellcheck") -> list[str]:
    paths = list(paths)
    if not paths:
        return []
    # -x follows `source` lines; the scripts' own directives set source paths.
    proc = subprocess.run([shellcheck, "-x", "--format=gcc", *map(str, paths)], capture_output=True,
                          text=True, timeout=COMMAND_TIMEOUT, check=False, cwd=ROOT)
    if proc.returncode == 0:
        return []
    return proc.stdout.strip().splitlines() or [proc.stderr.strip()]


# --- Containerfile ------------------------------------------------------------------
def final_user(containerfile: Path) -> str | None:
    """The USER in force in the last stage of a Containerfile (None: root by default)."""
    user = None
    for raw in containerfile.read_text().splitlines():
        line = raw.strip()
        upper = line.upper()
        if upper.startswith("FROM "):
            user = None  # each stage starts as the base image's user
        elif upper.startswith("USER "):
            user = line.split(None, 1)[1].strip()
    return user


def check_containerfile(containerfile: Path) -> list[str]:
    if not containerfile.exists():
        return [f"{containerfile} is missing"]
    user = final_user(containerfile)
    if user is None:
        return [f"{containerfile.name}: the final stage has no USER (runs as root)"]
    name = user.split(":", 1)[0]
    if name in ("root", "0"):
        return [f"{containerfile.name}: the final stage runs as {user}"]
    if not name.isdigit():
        # Kubernetes' runAsNonRoot can only verify a numeric user.
        return [f"{containerfile.name}: USER {user} is not numeric"]
    return []


def shared_dir_or_none() -> Path | None:
    return SHARED_DIR if has_crds() else None


def main() -> int:
    shared = shared_dir_or_none()
    problems = check_deploy_tree(ROOT / "deploy", shared)
    problems += check_manifest_files(sorted((ROOT / "e2e" / "manifests").glob("*.yaml")), shared)
    problems += check_kind_configs(sorted((ROOT / "kind-configs").glob("*.yaml")))
    scripts = shell_scripts(ROOT)
    problems += check_bash_syntax(scripts)
    if shutil.which("shellcheck"):
        problems += check_shellcheck(scripts)
    else:
        print("shellcheck not found: skipped", file=sys.stderr)
    problems += check_containerfile(ROOT / "Containerfile")
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
