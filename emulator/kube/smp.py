"""Strategic merge patch as kube-apiserver applies it, with merge keys read from the real OpenAPI schemas.

A port of the apply half of k8s.io/apimachinery/pkg/util/strategicpatch (mergeMap / mergeSlice /
normalizeElementOrder, with the apiserver's options MergeParallelList and IgnoreUnmatchedNulls), so the
emulator's results match the real server down to list order and quirks. The schemas shipped by
`kubernetes-validate` carry `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key` for every field,
so no merge key is hand-listed here. `kubectl patch --local` (the same Go code) is the oracle in
tests/fidelity/test_smp_vs_kubectl.py.

Upstream walks a patch map in Go's random order, so a patch that both adds and deletes one primitive
(`finalizers` plus `$deleteFromPrimitiveList/finalizers`) has no single answer; here keys go in patch order.
One deliberate divergence: upstream rejects a map or list field unknown to the Go struct ("unable to find
api field"); here it merges like a plain JSON merge, as emulator objects may carry fields the schema lacks.
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
_MISSING = object()


class SmpError(ValueError):
    """The patch is malformed; the message is the one the apiserver returns."""


@functools.cache
def _definitions() -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / "_definitions.json").read_text())["$defs"]


def _resolve(schema: dict | None) -> dict | None:
    """Follow `$ref`s (also inside allOf) to the definition that has the properties."""
    while schema:
        refs = [s["$ref"] for s in schema.get("allOf") or [] if "$ref" in s]
        ref = schema.get("$ref") or (refs[0] if refs else None)
        if not ref:
            return schema
        schema = _definitions().get(ref.rsplit("/", 1)[-1])
    return schema


def _field(schema: dict | None, name: str) -> dict | None:
    """The schema of field `name` of an object schema, or of a value of a map schema."""
    resolved = _resolve(schema)
    if not resolved:
        return None
    extra = resolved.get("additionalProperties")
    return (resolved.get("properties") or {}).get(name) or (extra if isinstance(extra, dict) else None)


def _strategy(field: dict | None) -> str:
    """The patch strategy without the retainKeys part ("merge,retainKeys" -> "merge")."""
    strategies = ((field or {}).get("x-kubernetes-patch-strategy") or "").split(",")
    return next((s for s in strategies if s in ("merge", "replace")), "")


def _merge_key(field: dict | None) -> str:
    return (field or {}).get("x-kubernetes-patch-merge-key") or ""


def strategic_merge_patch(original: dict, patch: dict) -> dict:
    """Return `original` with the strategic merge `patch` applied; neither input is mutated."""
    if not isinstance(patch, dict):
        raise SmpError("a strategic merge patch must be a JSON object")
    root = ROOTS.get((original.get("apiVersion", ""), original.get("kind", "")))
    schema = _definitions().get(root) if root else None
    return _merge_map(copy.deepcopy(original), copy.deepcopy(patch), schema)


def _go_type(value: Any) -> type:
    """The Go type encoding/json decodes `value` to: every JSON number is a float64."""
    return float if isinstance(value, int | float) and not isinstance(value, bool) else type(value)


def _equal(left: Any, right: Any) -> bool:
    """Go interface equality of decoded JSON scalars (True is not 1 there)."""
    return _go_type(left) is _go_type(right) and left == right


def _bad_arg(expected: str, actual: Any) -> SmpError:
    return SmpError(f"expected a {expected}, but received a {_go_type(actual).__name__}")


def _no_merge_key(item: Any, key: str) -> SmpError:
    return SmpError(f"map: {item} does not contain declared merge key: {key}")


def _merge_map(original: dict, patch: dict, schema: dict | None) -> dict:
    """mergeMap: `$patch` first, then `$retainKeys`, then `$setElementOrder` lists, then field by field."""
    if PATCH in patch:
        directive = patch.pop(PATCH)
        if directive == "replace":
            return patch
        if directive == "delete":
            return {}
        raise SmpError(f"unknown patch type: {directive} in map: {patch | {PATCH: directive}}")
    _apply_retain_keys(original, patch)
    _apply_element_orders(original, patch, schema)
    for key, value in list(patch.items()):
        is_delete_list = key.startswith(DELETE_PRIMITIVE_PREFIX)
        if is_delete_list:
            key = key[len(DELETE_PRIMITIVE_PREFIX) :] or key  # upstream keeps it when nothing follows "/"
        if value is None:
            original.pop(key, None)
            continue
        current = original.get(key, _MISSING)
        if current is _MISSING or _go_type(current) is not _go_type(value):
            if not is_delete_list:
                _set_without_directives(original, key, _discard_nulls(value))
            continue
        field = _field(schema, key)
        if isinstance(value, dict):
            original[key] = value if _strategy(field) == "replace" else _merge_map(current, value, field)
        elif isinstance(value, list):
            merge = _strategy(field) == "merge"
            original[key] = _merge_list(current, value, field, is_delete_list) if merge else value
        else:
            _set_without_directives(original, key, value)
    return original


def _apply_retain_keys(original: dict, patch: dict) -> None:
    """applyRetainKeysDirective: every non-null patch field must be retained; unlisted fields are cleared."""
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise SmpError("invalid patch format of retainKeys")
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_PRIMITIVE_PREFIX, ORDER_PREFIX)):
            continue
        if not any(_equal(key, kept) for kept in retain):
            raise SmpError("invalid patch format of retainKeys")
    for key in [k for k in original if not any(_equal(k, kept) for kept in retain)]:
        del original[key]


def _apply_element_orders(original: dict, patch: dict, schema: dict | None) -> None:
    """mergePatchIntoOriginal: merge each `$setElementOrder/<field>` list with its patch list; order it."""
    for directive in [k for k in patch if k.startswith(ORDER_PREFIX)]:
        order = patch.pop(directive)
        if not isinstance(order, list):
            raise _bad_arg("[]interface {}", order)
        key = directive[len(ORDER_PREFIX) :]
        current, value = original.get(key, _MISSING), patch.get(key, _MISSING)
        for found in (current, value):
            if found is not _MISSING and not isinstance(found, list):
                raise _bad_arg("[]interface {}", found)
        field = _field(schema, key)
        merge_key = _merge_key(field)
        current_list = [] if current is _MISSING else current
        value_list = [] if value is _MISSING else value
        _validate_order(value_list, order, merge_key)
        if current is _MISSING and value is _MISSING:
            continue
        if value is _MISSING:
            merged = current_list
        elif current is _MISSING:
            merged = value_list
        elif _strategy(field) == "merge":
            merged, current_list = _merge_slice(current_list, value_list, field, False)
        else:
            merged = value_list
        in_order, server_only = _partition(merged, order, merge_key)
        is_map = _element_type(current_list, value_list) is dict
        original[key] = _normalize_order(in_order, server_only, order, current_list, merge_key, is_map)
        patch.pop(key, None)


def _validate_order(patch_list: list, order: list, merge_key: str) -> None:
    """validatePatchWithSetOrderList: the patch list must follow the `$setElementOrder` list's order."""
    if not order or not patch_list:
        return
    items = [i for i in patch_list if not (merge_key and isinstance(i, dict) and i.get(PATCH) == "delete")]
    at = 0
    for wanted in order:
        while at < len(items) and isinstance(items[at], dict) and PATCH in items[at]:
            at += 1
        if at >= len(items):
            return
        if _identity(items[at], merge_key) == _identity(wanted, merge_key):
            at += 1
    if at < len(items):
        mismatch = f"The order in patch list:\n{patch_list}\n doesn't match $setElementOrder list:\n{order}\n"
        raise SmpError(mismatch)


def _identity(item: Any, merge_key: str) -> Any:
    """What identifies a list item: its merge key value, or the item itself for primitives."""
    if not merge_key:
        return (_go_type(item), item)
    if not isinstance(item, dict):
        raise _bad_arg("map[string]interface {}", item)
    if merge_key not in item:
        raise _no_merge_key(item, merge_key)
    return (_go_type(item[merge_key]), item[merge_key])


def _element_type(*lists: list) -> type:
    """sliceElementType: all items of the lists share one type, and it is not a list."""
    found: type | None = None
    for item in (i for items in lists for i in items):
        if found is None:
            found = _go_type(item)
            if found is list:
                raise SmpError("lists of lists are not supported")
        elif _go_type(item) is not found:
            raise SmpError(f"list element types are not identical: {list(lists)}")
    if found is None:
        raise SmpError("no elements in any of the given slices")
    return found


def _merge_list(original: list, patch: list, field: dict | None, is_delete_list: bool) -> list:
    return _merge_slice(original, patch, field, is_delete_list)[0]


def _merge_slice(original: list, patch: list, field: dict | None, is_delete_list: bool) -> tuple[list, list]:
    """mergeSlice: a union for primitives, a merge by key for maps, then the apiserver's element order.

    Also returns the server list as Go's caller still sees it: deletions and appends write through the shared
    backing array (`append(s[:k], s[k+1:]...)`), and `$setElementOrder` then orders by that aliased view."""
    if not original and not patch:
        return original, original
    merge_key = _merge_key(field)
    is_map = _element_type(original, patch) is dict
    view = original
    if not is_map:
        if is_delete_list:
            return [v for v in original if not any(_equal(v, d) for d in patch)], view
        merged: list = []
        for value in original + patch:
            if not any(_equal(value, seen) for seen in merged):
                merged.append(value)
    else:
        if not merge_key:
            raise SmpError("cannot merge lists without merge key for type map")
        view = list(original)
        original, patch = _apply_list_directives(view, patch, merge_key)
        merged = list(original)
        for item in patch:
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            position = _find(merged, merge_key, item[merge_key])
            if position is None:
                if len(merged) < len(view):
                    view[len(merged)] = item  # append within the backing array's capacity
                merged.append(item)  # a new item is taken as is: its nulls and directives stay (upstream)
            else:
                merged[position] = _merge_map(merged[position], item, (field or {}).get("items"))
    in_patch, server_only = _partition(merged, patch, merge_key)
    return _normalize_order(in_patch, server_only, patch, original, merge_key, is_map), view


def _find(items: list, merge_key: str, value: Any) -> int | None:
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise SmpError(f"value for key {index} is not a map.")
        if merge_key in item and _equal(item[merge_key], value):
            return index
    return None


def _apply_list_directives(backing: list, patch: list, merge_key: str) -> tuple[list, list]:
    """mergeSliceWithSpecialElements: `$patch: delete` items drop matches, `$patch: replace` the rest.
    Deletions shift `backing` in place as Go's deleteMatchingEntries does; returns (server list, patch)."""
    plain, replace, length = [], False, len(backing)
    for item in patch:
        if PATCH not in item:
            plain.append(item)
        elif item[PATCH] == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            while (found := _find(backing[:length], merge_key, item[merge_key])) is not None:
                backing[found : length - 1] = backing[found + 1 : length]
                length -= 1
        elif item[PATCH] == "replace":
            replace = True
        elif item[PATCH] == "merge":
            raise SmpError("merging lists cannot yet be specified in the patch")
        else:
            raise SmpError(f"unknown patch type: {item[PATCH]} in map: {item}")
    return (plain, []) if replace else (backing[:length], plain)


def _partition(items: list, by: list, merge_key: str) -> tuple[list, list]:
    """Split items into those named by `by` and the server-only rest, each keeping its order."""
    named = {_identity(i, merge_key) for i in by if not merge_key or (isinstance(i, dict) and merge_key in i)}
    inside = [i for i in items if _identity(i, merge_key) in named]
    return inside, [i for i in items if _identity(i, merge_key) not in named]


def _normalize_order(
    patch_items: list, server_only: list, patch_order: list, server_order: list, merge_key: str, is_map: bool
) -> list:
    """normalizeElementOrder: sort each side by its own order, then interleave them by the server order."""
    patch_items = _sort_by(patch_items, patch_order, merge_key, is_map)
    server_only = _sort_by(server_only, server_order, merge_key, is_map)
    return _merge_sorted(server_only, patch_items, server_order, merge_key)


def _index(order: list, item: Any, merge_key: str) -> int:
    wanted = _identity(item, merge_key)
    for position, candidate in enumerate(order):
        if (not merge_key or (isinstance(candidate, dict) and merge_key in candidate)) and _identity(
            candidate, merge_key
        ) == wanted:
            return position
    return -1


def _sort_by(items: list, order: list, merge_key: str, is_map: bool) -> list:
    """normalizeSliceOrder. Go's sort.SliceStable (an insertion sort for such short lists) with upstream's
    less(), which calls an item missing from `order` smaller than anything: replicated so quirks match."""
    to_delete: list = []
    if is_map:
        for item in items + order:
            _identity(item, merge_key)  # validateMergeKeyInLists
        to_delete = [i for i in order if isinstance(i, dict) and i.get(PATCH) == "delete"]
    result = list(items)
    for i in range(1, len(result)):
        j = i
        while j > 0 and _less(result[j], result[j - 1], order, merge_key):
            result[j], result[j - 1] = result[j - 1], result[j]
            j -= 1
    return _merge_sorted(result, to_delete, order, merge_key)


def _less(left: Any, right: Any, order: list, merge_key: str) -> bool:
    left_at, right_at = _index(order, left, merge_key), _index(order, right, merge_key)
    return left_at < right_at if left_at >= 0 and right_at >= 0 else True


def _merge_sorted(left: list, right: list, server_order: list, merge_key: str) -> list:
    """mergeSortedSlice: take from `left` only when both items are in the server order, left's first."""
    result: list = []
    i = j = 0
    while i < len(left) and j < len(right):
        left_at, right_at = (
            _index(server_order, left[i], merge_key),
            _index(server_order, right[j], merge_key),
        )
        if left_at >= 0 and right_at >= 0 and left_at < right_at:
            result.append(left[i])
            i += 1
        else:
            result.append(right[j])
            j += 1
    return result + left[i:] + right[j:]


def _discard_nulls(value: Any) -> Any:
    """discardNullValuesFromPatch: nulls for fields the server lacks mean nothing (IgnoreUnmatchedNulls)."""
    if isinstance(value, dict):
        return {k: _discard_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_discard_nulls(v) for v in value]
    return value


def _remove_directives(value: Any) -> tuple[Any, bool]:
    """removeDirectives: a map carrying `$patch` vanishes (also as a list item); other directives stay."""
    if isinstance(value, dict):
        if PATCH in value:
            return None, False
        kept = {k: _remove_directives(v) for k, v in value.items()}
        return {k: v for k, (v, keep) in kept.items() if keep}, True
    if isinstance(value, list):
        return [v for v, keep in map(_remove_directives, value) if keep], True
    return value, True


def _set_without_directives(target: dict, key: str, value: Any) -> None:
    cleaned, keep = _remove_directives(value)
    if keep:
        target[key] = cleaned
    else:
        target.pop(key, None)
