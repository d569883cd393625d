"""Offline validation of the Kubernetes manifests in ``k8s/`` (there is no cluster on the cookbook's machines).

- Built-in kinds (HorizontalPodAutoscaler, ConfigMap, ...): the Kubernetes 1.37 JSON schema, strict (unknown
  fields fail), shipped by PyPI ``kubernetes-validate`` 1.37.0.
- ``InferenceService`` (serving.kserve.io/v1beta1): every field name and type against the API models that the
  KServe 0.21.0 SDK (PyPI ``kserve``) generates from KServe's OpenAPI spec. The model files are *read* (their
  ``openapi_types``/``attribute_map`` literals), not imported, so the SDK's server dependencies are not needed.
  Nested Kubernetes types (``V1Container``, ``V1Volume``, ...) go to the strict 1.37 JSON schema.
- ``RayService`` (ray.io/v1): ``serveConfigV2`` against Ray's own ``ServeDeploySchema`` (ray 2.60.0); the pod
  templates against the strict 1.37 ``PodTemplateSpec`` schema; the RayService/RayCluster fields against
  :data:`RAYSERVICE_FIELDS`, transcribed from KubeRay's v1 API types (no PyPI package ships KubeRay's CRD, and
  the CRD cannot be fetched here). The transcription was checked field by field on 2026-12-01 against
  ray-project/kuberay ``ray-operator/apis/ray/v1/raycluster_types.go`` (commit 3275ee0), ``docs/reference/api.md``
  (dc85903, for ``upgradeStrategy`` and ``excludeHeadPodFromServeSvc``) and the CRD
  ``ray-operator/config/crd/bases/ray.io_rayservices.yaml`` (1184bc8, for the ``upscalingMode`` enum).

:func:`problems` returns one message per problem (empty list: valid).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import yaml

K8S_VERSION = "1.37.0"

#: RayService and RayCluster fields this recipe uses, from KubeRay's Go API (ray-operator/apis/ray/v1:
#: rayservice_types.go, raycluster_types.go): field -> type ("pod" = core/v1 PodTemplateSpec, "serve" =
#: a Serve config YAML string, "map" = string map, a tuple = one of these strings, a dict = nested object,
#: [dict] = list of objects). Enums: ``upscalingMode`` from the CRD; ``upgradeStrategy.type`` from the API
#: reference (``NewClusterWithIncrementalUpgrade`` is newer and behind a feature gate: KubeRay >= 1.5).
RAYSERVICE_FIELDS: dict[str, Any] = {
    "serveConfigV2": "serve",
    "upgradeStrategy": {"type": ("NewCluster", "None", "NewClusterWithIncrementalUpgrade")},
    "excludeHeadPodFromServeSvc": bool,
    "rayClusterConfig": {
        "rayVersion": str, "enableInTreeAutoscaling": bool,
        "autoscalerOptions": {"upscalingMode": ("Default", "Aggressive", "Conservative"), "idleTimeoutSeconds": int, "imagePullPolicy": str},
        "headGroupSpec": {"rayStartParams": "map", "template": "pod", "serviceType": str},
        "workerGroupSpecs": [{"groupName": str, "replicas": int, "minReplicas": int, "maxReplicas": int,
                              "rayStartParams": "map", "template": "pod", "numOfHosts": int}],
    },
}


@functools.lru_cache(maxsize=1)
def k8s_defs() -> dict[str, Any]:
    """``$defs`` of kubernetes-validate's strict 1.37 schema bundle (``io.k8s.api.core.v1.Container``, ...)."""
    spec = importlib.util.find_spec("kubernetes_validate")
    root = Path(list(spec.submodule_search_locations)[0])
    path = root / "kubernetes-json-schema" / f"v{K8S_VERSION}-local-strict" / "_definitions.json"
    return json.loads(path.read_text())["$defs"]


def k8s_type_problems(obj: Any, definition: str, where: str) -> list[str]:
    """Validate ``obj`` against one strict Kubernetes definition, e.g. ``io.k8s.api.core.v1.Container``."""
    import jsonschema

    schema = {"$ref": f"#/$defs/{definition}", "$defs": k8s_defs()}
    cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    return [f"{where}{'.' + '.'.join(map(str, e.absolute_path)) if e.absolute_path else ''}: {e.message}"
            for e in cls(schema).iter_errors(obj)]


def _k8s_def_for(sdk_type: str) -> str | None:
    """``V1Container`` -> ``io.k8s.api.core.v1.Container`` (core and meta groups first)."""
    m = re.match(r"^V(\d+(?:alpha\d+|beta\d+)?)([A-Z]\w*)$", sdk_type)
    if not m:
        return None
    ver, name = f"v{m.group(1)}", m.group(2)
    keys = [k for k in k8s_defs() if k.endswith(f".{ver}.{name}")]
    keys.sort(key=lambda k: (not k.startswith("io.k8s.api.core."), not k.startswith("io.k8s.apimachinery."), k))
    return keys[0] if keys else None


@functools.lru_cache(maxsize=1)
def kserve_models() -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """``{class name: (openapi_types, attribute_map)}`` of every model file of the installed KServe SDK."""
    spec = importlib.util.find_spec("kserve")
    if spec is None:
        raise RuntimeError("PyPI kserve is not installed (make venv installs it with --no-deps)")
    out = {}
    for py in (Path(list(spec.submodule_search_locations)[0]) / "models").glob("v1*.py"):
        for node in ast.parse(py.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                lits = {}
                for st in node.body:
                    if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name) \
                            and st.targets[0].id in ("openapi_types", "attribute_map"):
                        lits[st.targets[0].id] = ast.literal_eval(st.value)
                if len(lits) == 2:
                    out[node.name] = (lits["openapi_types"], lits["attribute_map"])
    return out


_PRIMS = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float), "object": (object,)}


def kserve_problems(obj: Any, sdk_type: str, where: str) -> list[str]:
    """Check ``obj`` against KServe SDK type ``sdk_type`` (recursively): unknown fields and wrong types."""
    if sdk_type in _PRIMS:
        ok = isinstance(obj, _PRIMS[sdk_type]) and not (sdk_type == "int" and isinstance(obj, bool))
        return [] if ok else [f"{where}: expected {sdk_type}, got {type(obj).__name__}"]
    if sdk_type.startswith("list["):
        if not isinstance(obj, list):
            return [f"{where}: expected a list"]
        return [p for i, x in enumerate(obj) for p in kserve_problems(x, sdk_type[5:-1], f"{where}[{i}]")]
    if sdk_type.startswith("dict("):
        inner = sdk_type[5:-1].split(", ", 1)[1]
        if not isinstance(obj, dict):
            return [f"{where}: expected a map"]
        return [p for k, v in obj.items() for p in kserve_problems(v, inner, f"{where}.{k}")]
    models = kserve_models()
    if sdk_type in models:
        types, amap = models[sdk_type]
        if not isinstance(obj, dict):
            return [f"{where}: expected an object ({sdk_type})"]
        by_json = {v: k for k, v in amap.items()}
        out = []
        for key, val in obj.items():
            if key not in by_json:
                out.append(f"{where}.{key}: unknown field of {sdk_type}")
            else:
                out += kserve_problems(val, types[by_json[key]], f"{where}.{key}")
        return out
    if sdk_type == "V1beta1MetricQuantity":  # Go alias of resource.Quantity: no model file in the SDK
        return k8s_type_problems(obj, "io.k8s.apimachinery.pkg.api.resource.Quantity", where)
    definition = _k8s_def_for(sdk_type)
    if definition:
        return k8s_type_problems(obj, definition, where)
    return [f"{where}: type {sdk_type} is known to neither the KServe SDK nor the Kubernetes schema"]


def _ray_problems(obj: Any, shape: Any, where: str) -> list[str]:
    if shape == "pod":
        return k8s_type_problems(obj, "io.k8s.api.core.v1.PodTemplateSpec", where)
    if shape == "map":
        return [] if isinstance(obj, dict) and all(isinstance(v, str) for v in obj.values()) else \
            [f"{where}: expected a map of strings (rayStartParams values are strings)"]
    if shape == "serve":
        from pydantic import ValidationError
        from ray.serve.schema import ServeDeploySchema

        try:
            ServeDeploySchema.model_validate(yaml.safe_load(obj))
            return []
        except (ValidationError, yaml.YAMLError, AttributeError) as exc:
            return [f"{where}: not a valid Serve config: {exc}"]
    if isinstance(shape, tuple):
        return [] if obj in shape else [f"{where}: expected one of {', '.join(shape)}"]
    if isinstance(shape, list):
        if not isinstance(obj, list):
            return [f"{where}: expected a list"]
        return [p for i, x in enumerate(obj) for p in _ray_problems(x, shape[0], f"{where}[{i}]")]
    if isinstance(shape, dict):
        if not isinstance(obj, dict):
            return [f"{where}: expected an object"]
        return [p for k, v in obj.items()
                for p in ([f"{where}.{k}: unknown field"] if k not in shape else _ray_problems(v, shape[k], f"{where}.{k}"))]
    ok = isinstance(obj, shape) and not (shape is int and isinstance(obj, bool))
    return [] if ok else [f"{where}: expected {shape.__name__}"]


def doc_problems(doc: dict[str, Any], where: str) -> list[str]:
    """Problems of one manifest document, by kind."""
    kind, api = doc.get("kind"), doc.get("apiVersion")
    if kind == "InferenceService" and api == "serving.kserve.io/v1beta1":
        return kserve_problems(doc, "V1beta1InferenceService", where)
    if kind == "RayService" and api == "ray.io/v1":
        p = k8s_type_problems(doc.get("metadata", {}), "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                              f"{where}.metadata")
        extra = set(doc) - {"apiVersion", "kind", "metadata", "spec"}
        p += [f"{where}.{k}: unknown field" for k in sorted(extra)]
        return p + _ray_problems(doc.get("spec", {}), RAYSERVICE_FIELDS, f"{where}.spec")
    import kubernetes_validate

    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        return []
    except kubernetes_validate.ValidationError as exc:
        return [f"{where}: {exc.message}"]
    except Exception as exc:  # noqa: BLE001  (unknown kind / version)
        return [f"{where}: {exc}"]


def problems(path: Path) -> list[str]:
    """Every problem of every document in the YAML file ``path``."""
    out = []
    for i, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
        if doc:
            out += doc_problems(doc, f"{path.name}#{i} {doc.get('kind')}")
    return out


if __name__ == "__main__":
    import sys

    files = [Path(a) for a in sys.argv[1:]] or sorted((Path(__file__).resolve().parent.parent / "k8s").glob("*.yaml"))
    msgs = [m for f in files for m in problems(f)]
    print("\n".join(msgs) or f"valid: {', '.join(f.name for f in files)}")
    sys.exit(1 if msgs else 0)
