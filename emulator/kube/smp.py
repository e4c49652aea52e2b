"""Strategic merge patch as kube-apiserver applies it, with merge keys read from the real OpenAPI schemas.

The schemas shipped by `kubernetes-validate` carry `x-kubernetes-patch-strategy` and
`x-kubernetes-patch-merge-key` for every field, so no merge key is hand-listed here. `kubectl patch
--local` is the oracle (tests/fidelity/test_smp_vs_kubectl.py).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import kubernetes_validate

SCHEMA_DIR = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.33.0-local-strict"
ROOTS = {
    ("v1", "Namespace"): "io.k8s.api.core.v1.Namespace",
    ("v1", "Secret"): "io.k8s.api.core.v1.Secret",
    ("v1", "ServiceAccount"): "io.k8s.api.core.v1.ServiceAccount",
    ("v1", "ConfigMap"): "io.k8s.api.core.v1.ConfigMap",
    ("apps/v1", "Deployment"): "io.k8s.api.apps.v1.Deployment",
    ("apps/v1", "StatefulSet"): "io.k8s.api.apps.v1.StatefulSet",
    ("apps/v1", "DaemonSet"): "io.k8s.api.apps.v1.DaemonSet",
    ("batch/v1", "Job"): "io.k8s.api.batch.v1.Job",
    ("batch/v1", "CronJob"): "io.k8s.api.batch.v1.CronJob",
}
PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
ORDER_PREFIX = "$setElementOrder/"
DELETE_PRIMITIVE_PREFIX = "$deleteFromPrimitiveList/"


class SmpError(ValueError):
    """The patch is malformed (an unknown directive, a list where a map belongs...)."""


@functools.cache
def _definitions() -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / "_definitions.json").read_text())["$defs"]


def _resolve(schema: dict | None) -> dict | None:
    """Follow `$ref`s (also inside allOf) to the definition that has the properties."""
    while schema:
        ref = schema.get("$ref") or next((s.get("$ref") for s in schema.get("allOf") or [] if "$ref" in s), None)
        if not ref:
            return schema
        schema = _definitions().get(ref.rsplit("/", 1)[-1])
    return schema


def _field(schema: dict | None, name: str) -> dict | None:
    resolved = _resolve(schema)
    if not resolved:
        return None
    return (resolved.get("properties") or {}).get(name) or (
        resolved.get("additionalProperties") if isinstance(resolved.get("additionalProperties"), dict) else None
    )


def strategic_merge_patch(original: dict, patch: dict) -> dict:
    """Return `original` with the strategic merge `patch` applied; neither input is mutated."""
    if not isinstance(patch, dict):
        raise SmpError("a strategic merge patch must be a JSON object")
    root = ROOTS.get((original.get("apiVersion", ""), original.get("kind", "")))
    schema = _definitions().get(root) if root else None
    merged = _merge_map(copy.deepcopy(original), copy.deepcopy(patch), schema)
    if merged is None:
        raise SmpError("the patch deletes the whole object")
    return merged


def _merge_map(original: dict, patch: dict, schema: dict | None) -> dict | None:
    directive = patch.pop(PATCH, None)
    if directive == "delete":
        return None
    if directive == "replace":
        return _strip(patch)
    if directive not in (None, "merge"):
        raise SmpError(f"Unknown patch type: {directive}")
    retain = patch.pop(RETAIN_KEYS, None)
    orders = {k[len(ORDER_PREFIX) :]: patch.pop(k) for k in [k for k in patch if k.startswith(ORDER_PREFIX)]}
    deletions = {
        k[len(DELETE_PRIMITIVE_PREFIX) :]: patch.pop(k)
        for k in [k for k in patch if k.startswith(DELETE_PRIMITIVE_PREFIX)]
    }
    for key, values in deletions.items():
        if isinstance(original.get(key), list):
            original[key] = [v for v in original[key] if v not in values]
    for key, value in patch.items():
        if key.startswith("$"):
            raise SmpError(f"unknown directive {key}")
        field = _field(schema, key)
        if value is None:
            original.pop(key, None)
        elif isinstance(value, dict) and isinstance(original.get(key), dict):
            merged = _merge_map(original[key], value, field)
            if merged is None:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, list) and _strategy(field) == "merge":
            original[key] = _merge_list(original.get(key) or [], value, field, orders.get(key))
        elif isinstance(value, dict):
            merged = _merge_map({}, value, field)
            if merged is not None:
                original[key] = merged
        else:
            original[key] = _strip(value)
    for key, order in orders.items():
        if key not in patch and isinstance(original.get(key), list):
            ids = [o.get(_merge_key(_field(schema, key))) if isinstance(o, dict) else o for o in order]
            original[key] = _apply_order(original[key], original[key], ids, _merge_key(_field(schema, key)))
    if retain is not None:
        if not isinstance(retain, list):
            raise SmpError("$retainKeys must be a list")
        for key in [k for k in original if k not in retain]:
            del original[key]
    return original


def _strategy(field: dict | None) -> str:
    return ((field or {}).get("x-kubernetes-patch-strategy") or "").split(",")[0]


def _merge_key(field: dict | None) -> str | None:
    return (field or {}).get("x-kubernetes-patch-merge-key")


def _merge_list(original: list, patch: list, field: dict | None, order: list | None) -> list:
    key = _merge_key(field)
    item_schema = (field or {}).get("items")
    if any(isinstance(i, dict) and i.get(PATCH) == "replace" for i in patch):
        return [_strip(i) for i in patch if not (isinstance(i, dict) and PATCH in i)]
    if key is None:  # a primitive list with the merge strategy (e.g. finalizers): a union
        merged = list(original) + [v for v in patch if v not in original]
        return _apply_order(merged, original, order if order is not None else patch, None)
    merged = list(original)
    patched_ids = []
    for item in patch:
        if not isinstance(item, dict):
            raise SmpError(f"expected objects in the list merged by {key!r}")
        position = next((i for i, o in enumerate(merged) if isinstance(o, dict) and o.get(key) == item.get(key)), None)
        if item.get(PATCH) == "delete":
            merged = [o for o in merged if not (isinstance(o, dict) and o.get(key) == item.get(key))]
            continue
        patched_ids.append(item.get(key))
        if position is None:
            merged.append(_merge_map({}, item, item_schema))
        else:
            result = _merge_map(merged[position], item, item_schema)
            if result is None:
                merged.pop(position)
            else:
                merged[position] = result
    patch_order = [o.get(key) if isinstance(o, dict) else o for o in order] if order is not None else patched_ids
    return _apply_order(merged, original, patch_order, key)


def _apply_order(items: list, original: list, patch_order: list, key: str | None) -> list:
    """The apiserver's normalizeElementOrder: items the patch names, in patch order, interleaved with the
    server-only items by their server positions; an item new to the server goes before the next server item."""
    ident = (lambda item: item.get(key) if isinstance(item, dict) else item) if key else (lambda item: item)
    server_ids = [ident(o) for o in original]
    wanted = {value: index for index, value in enumerate(patch_order)}
    patch_side = sorted((i for i in items if ident(i) in wanted), key=lambda i: wanted[ident(i)])
    server_side = sorted(
        (i for i in items if ident(i) not in wanted),
        key=lambda i: server_ids.index(ident(i)) if ident(i) in server_ids else 0,
    )
    result: list = []
    left, right = 0, 0
    while left < len(server_side) and right < len(patch_side):
        l_id, r_id = ident(server_side[left]), ident(patch_side[right])
        if l_id in server_ids and r_id in server_ids and server_ids.index(l_id) < server_ids.index(r_id):
            result.append(server_side[left])
            left += 1
        else:
            result.append(patch_side[right])
            right += 1
    return result + server_side[left:] + patch_side[right:]


def _strip(value: Any) -> Any:
    """Drop directive keys from a value that replaces wholesale."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
