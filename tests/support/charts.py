"""charts/taskmanager rendered and linted by Helm's own engine, checked against Kubernetes' schemas.

Helm is the Go library itself (helm-python-sdk binds helm.sh/helm/v4 through a C ABI): Debian
packages no helm and PyPI no helm binary. The schemas are the OpenAPI ones kubernetes-validate
bundles, read strictly (a misspelt or misplaced field is an error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "taskmanager"
RELEASE = "tm"
NAMESPACE = "taskmanager"
# The oldest and the newest Kubernetes whose schemas kubernetes-validate bundles.
KUBERNETES_VERSIONS = ("1.25.0", "1.37.0")
# helm lint's severities (helm.sh/helm/v4/pkg/chart/v2/lint/support): info, warning, error.
LINT_WARNING = 2

RenderError = helm.HelmRenderError
Rendered = dict[str, list[dict[str, Any]]]


def render(values: dict[str, Any] | None = None, *, upgrade: bool = False) -> Rendered:
    """Each template's documents, as `helm install` (or `helm upgrade`) would send them."""
    with helm.Chart.load(CHART) as chart:
        texts = chart.render(
            values or {},
            name=RELEASE,
            namespace=NAMESPACE,
            is_install=not upgrade,
            is_upgrade=upgrade,
        )
    return {
        path.removeprefix(f"{CHART.name}/templates/"): [
            document for document in yaml.safe_load_all(text) if document
        ]
        for path, text in texts.items()
        if path.endswith(".yaml")
    }


def lint_findings(values: dict[str, Any], kubernetes_version: str) -> list[str]:
    """`helm lint --strict` with these values: its warnings and errors (infos left out)."""
    report = helm.lint(CHART, values, strict=True, kube_version=kubernetes_version)
    findings = [
        f"{message['path']}: {message['error']}"
        for message in report["messages"]
        if message["severity"] >= LINT_WARNING
    ]
    return findings + [str(error) for error in report["errors"]]


def schema_errors(document: dict[str, Any], kubernetes_version: str) -> str | None:
    """Why the document is not a valid Kubernetes object of that version, or None."""
    try:
        kubernetes_validate.validate(document, kubernetes_version, strict=True)
    except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as exc:
        return f"{document['kind']} {document['metadata']['name']}: {exc}"
    return None
