"""managedFields as kube-apiserver keeps them: field sets per manager, for updates and server-side apply.

A port of the parts of sigs.k8s.io/structured-merge-diff (typed ToFieldSet / Compare / Merge, merge.Updater's
Update and Apply) and k8s.io/apimachinery/pkg/util/managedfields (strip-meta, reset status, entry encoding and
order) that field ownership shows. The schema comes from the same OpenAPI definitions the strategic merge patch
uses: `x-kubernetes-list-type` (atomic | set | map with `x-kubernetes-list-map-keys`) and
`x-kubernetes-map-type`; a list without a list type is atomic, as upstream.

Paths are tuples of FieldsV1 keys: `f:<field>`, `k:<json of the key fields, sorted>`, `v:<json value>`.

Known simplifications (none changes who owns a leaf): on create, upstream compares against the Go zero value, in
which non-pointer structs and fields without omitempty exist; here every struct and every required field counts as
existing then (so `.` marks maps, optional lists and list items, never a struct added on create); an associative
list merged by apply keeps the live order and appends new items; Update entries are not capped at ten (upstream
folds older ones into `ancient-changes`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from emulator.kube.smp import ROOTS, _definitions, _field, _resolve

Path = tuple[str, ...]
FieldSet = frozenset[Path]
APPLY, UPDATE = "Apply", "Update"
_MISSING = object()
# managedfields/internal/stripmeta.go: never owned by anyone
_STRIPPED: frozenset[Path] = frozenset(
    {("f:apiVersion",), ("f:kind",), ("f:metadata",)}
    | {("f:metadata", f"f:{name}") for name in ("name", "namespace", "creationTimestamp", "selfLink", "uid",
                                                "clusterName", "generation", "managedFields", "resourceVersion")}
)  # fmt: skip
# the main resource's reset fields (status is a subresource) for the kinds whose strategy resets them
_RESET_PREFIXES: tuple[Path, ...] = (("f:status",),)


@dataclass(frozen=True)
class Entry:
    manager: str
    operation: str
    api_version: str
    time: str
    fields: FieldSet

    @property
    def key(self) -> tuple[str, str]:
        """Upstream keys Apply entries by manager, Update entries by manager and apiVersion (subresource '')."""
        return (self.manager, APPLY) if self.operation == APPLY else (self.manager, f"{UPDATE}:{self.api_version}")

    def encode(self) -> dict:
        return {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
                "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": encode(self.fields)}  # fmt: skip


class ApplyConflictError(Exception):
    """Another manager owns fields this apply would change: `conflicts` is [(manager, apiVersion, path)]."""

    def __init__(self, conflicts: list[tuple[str, str, str]]):
        super().__init__(conflicts)
        self.conflicts = conflicts


# -- schema ------------------------------------------------------------------------------------------------
def root_schema(obj: dict) -> dict | None:
    name = ROOTS.get((obj.get("apiVersion", ""), obj.get("kind", "")))
    return _definitions().get(name) if name else None


def _shape(schema: dict | None, value: Any) -> str:
    """scalar | atomic | struct | map | list-map | list-set; without a schema, deduced from the value."""
    resolved = _resolve(schema) if schema else None
    if resolved is None:
        return "map" if isinstance(value, dict) else "atomic" if isinstance(value, list) else "scalar"
    if (resolved.get("x-kubernetes-map-type") or (schema or {}).get("x-kubernetes-map-type")) == "atomic":
        return "atomic"
    types = resolved.get("type") or []
    types = [types] if isinstance(types, str) else types
    if "array" in types or (isinstance(value, list) and not types):
        list_type = resolved.get("x-kubernetes-list-type") or (schema or {}).get("x-kubernetes-list-type")
        return {"map": "list-map", "set": "list-set"}.get(list_type or "", "atomic")
    if "object" in types or (isinstance(value, dict) and not types):
        if resolved.get("properties"):
            return "struct"
        return "map" if isinstance(resolved.get("additionalProperties"), dict) or isinstance(value, dict) else "atomic"
    return "scalar"


def _items_schema(schema: dict | None) -> dict | None:
    resolved = _resolve(schema) if schema else None
    return (resolved or {}).get("items")


def _list_keys(schema: dict | None) -> list[str]:
    resolved = _resolve(schema) or {}
    return list(resolved.get("x-kubernetes-list-map-keys") or (schema or {}).get("x-kubernetes-list-map-keys") or [])


def _item_key(item: Any, shape: str, keys: list[str]) -> str:
    if shape == "list-set":
        return "v:" + json.dumps(item, separators=(",", ":"))
    fields = {k: item[k] for k in sorted(keys) if isinstance(item, dict) and k in item}
    return "k:" + json.dumps(fields, separators=(",", ":"))


def _declared(schema: dict | None, name: str) -> bool:
    return name in ((_resolve(schema) or {}).get("properties") or {})


# -- field sets (typed.ToFieldSet) -------------------------------------------------------------------------
def field_set(obj: dict) -> FieldSet:
    """The fields an applied configuration specifies: leaves, list items, map entries, empty or null values."""
    out: set[Path] = set()
    _to_set(obj, root_schema(obj), (), out)
    return _owned(out)


def _to_set(value: Any, schema: dict | None, path: Path, out: set[Path]) -> None:
    shape = _shape(schema, value)
    if shape in ("scalar", "atomic") or value is None:
        out.add(path)
        return
    if shape in ("list-map", "list-set"):
        keys, element = _list_keys(schema), _items_schema(schema)
        for item in value if isinstance(value, list) else []:
            child = (*path, _item_key(item, shape, keys))
            _to_set(item, element, child, out)
            out.add(child)
        return
    for name, child_value in (value if isinstance(value, dict) else {}).items():
        child = (*path, f"f:{name}")
        _to_set(child_value, _field(schema, name), child, out)
        if child_value is None or child_value == {} or not _declared(schema, name):
            out.add(child)


# -- comparison (typed.Compare) ----------------------------------------------------------------------------
@dataclass
class Comparison:
    added: set[Path]
    removed: set[Path]
    modified: set[Path]


def compare(old: dict, new: dict, creating: bool = False) -> Comparison:
    result = Comparison(set(), set(), set())
    _compare(_clean(old), _clean(new), root_schema(new) or root_schema(old), (), result, creating)
    result.added, result.removed, result.modified = (
        set(_owned(result.added)), set(_owned(result.removed)), set(_owned(result.modified))
    )  # fmt: skip
    return result


def _compare(
    old: Any, new: Any, schema: dict | None, path: Path, result: Comparison, creating: bool, required: bool = False
) -> None:
    sample = new if new is not _MISSING else old
    shape = _shape(schema, sample)
    if shape in ("scalar", "atomic") or old is None or new is None:
        if old is _MISSING:
            result.added.add(path)
        elif new is _MISSING:
            result.removed.add(path)
        elif old != new:
            result.modified.add(path)
        return
    if shape in ("list-map", "list-set"):
        keys, element = _list_keys(schema), _items_schema(schema)
        before = _index(old, shape, keys)
        after = _index(new, shape, keys)
        for key in [*before, *(k for k in after if k not in before)]:
            _compare(before.get(key, _MISSING), after.get(key, _MISSING), element, (*path, key), result, False)
    else:
        before = old if isinstance(old, dict) else {}
        after = new if isinstance(new, dict) else {}
        needed = set((_resolve(schema) or {}).get("required") or []) if schema else set()
        for name in [*before, *(k for k in after if k not in before)]:
            _compare(before.get(name, _MISSING), after.get(name, _MISSING), _field(schema, name), (*path, f"f:{name}"),
                     result, creating, name in needed)  # fmt: skip
    # On create upstream compares with the Go zero value, where structs and fields without omitempty (the
    # required ones) exist already: only maps, optional lists and list items are added as nodes of their own.
    if not path or (creating and (shape == "struct" or required)):
        return
    if old is _MISSING:
        result.added.add(path)
    elif new is _MISSING:
        result.removed.add(path)


def _index(value: Any, shape: str, keys: list[str]) -> dict[str, Any]:
    if not isinstance(value, list):
        return {}
    return {_item_key(item, shape, keys): item for item in value}


# -- merge (typed.Merge) and removal -----------------------------------------------------------------------
def merge(live: Any, config: Any, schema: dict | None) -> Any:
    """The applied configuration merged into the live object: maps and structs by field, associative lists by
    key, sets by value; scalars and atomic values are replaced."""
    shape = _shape(schema, config)
    if live is _MISSING or live is None or config is None or shape in ("scalar", "atomic"):
        return copy.deepcopy(config)
    if shape in ("list-map", "list-set"):
        keys, element = _list_keys(schema), _items_schema(schema)
        wanted = _index(config, shape, keys)
        result = []
        for item in live if isinstance(live, list) else []:
            key = _item_key(item, shape, keys)
            result.append(merge(item, wanted.pop(key), element) if key in wanted else copy.deepcopy(item))
        return result + [copy.deepcopy(item) for item in wanted.values()]
    result = copy.deepcopy(live) if isinstance(live, dict) else {}
    for name, value in (config if isinstance(config, dict) else {}).items():
        result[name] = merge(result.get(name, _MISSING), value, _field(schema, name))
    return result


def remove(obj: dict, paths: set[Path]) -> dict:
    """The object without the fields at `paths` (a path under another removed one goes with it). A list left
    empty by removing its items is dropped, as upstream's remover leaves it null."""
    result = copy.deepcopy(obj)
    schema = root_schema(obj)
    for path in paths:
        if not any(path[:n] in paths for n in range(1, len(path))):
            _remove(result, schema, path)
    return result


def _remove(node: Any, schema: dict | None, path: Path) -> None:
    parent, name = None, ""
    for depth, key in enumerate(path):
        last = depth == len(path) - 1
        if key.startswith("f:") and isinstance(node, dict):
            if key[2:] not in node:
                return
            if last:
                del node[key[2:]]
                return
            parent, name = node, key[2:]
            node, schema = node[name], _field(schema, name)
        elif isinstance(node, list):
            shape = _shape(schema, node)
            keys, element = _list_keys(schema), _items_schema(schema)
            found = next((i for i, item in enumerate(node) if _item_key(item, shape, keys) == key), None)
            if found is None:
                return
            if last:
                del node[found]
                if not node and parent is not None:
                    del parent[name]
                return
            parent, name = None, ""
            node, schema = node[found], element
        else:
            return


# -- the updater (merge.Updater) ---------------------------------------------------------------------------
def decode_entries(obj: dict | None) -> dict[tuple[str, str], Entry]:
    entries = {}
    for raw in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        if not isinstance(raw, dict) or raw.get("fieldsType", "FieldsV1") != "FieldsV1":
            continue
        entry = Entry(str(raw.get("manager", "")), str(raw.get("operation", UPDATE)), str(raw.get("apiVersion", "")),
                      str(raw.get("time", "")), decode(raw.get("fieldsV1") or {}))  # fmt: skip
        entries[entry.key] = entry
    return entries


def track_update(live: dict | None, new: dict, manager: str, now: str) -> dict:
    """`new` with managedFields after a create, update or patch by `manager` (operation Update): it owns what it
    changed or added; every other manager loses what it owned and this write changed or removed."""
    entries = decode_entries(live)
    comparison = compare(live or {}, new, creating=live is None)
    changed = comparison.modified | comparison.added
    for key, entry in list(entries.items()):
        if entry.manager == manager and entry.operation == UPDATE:
            continue
        kept = entry.fields - changed - comparison.removed
        entries[key] = _with(entry, kept) if kept != entry.fields else entry
    version = new.get("apiVersion", "")
    mine = Entry(manager, UPDATE, version, now, frozenset())
    previous = entries.get(mine.key, mine)
    fields = (previous.fields - comparison.removed) | frozenset(changed)
    if fields != previous.fields or mine.key not in entries:
        entries[mine.key] = Entry(manager, UPDATE, version, now, fields)
    return _encoded(new, entries)


def track_apply(live: dict | None, config: dict, manager: str, force: bool, now: str) -> dict:
    """The object after `manager` applies `config` (server-side apply), with its managedFields. Raises
    ApplyConflictError when another manager owns a field the configuration changes, unless `force`."""
    schema = root_schema(config)
    base = _clean(live) if live is not None else {}
    merged = merge(base, _clean(config), schema)
    entries = decode_entries(live)
    applied = field_set(config)
    mine = (manager, APPLY)
    last = entries[mine].fields if mine in entries else frozenset()
    others = frozenset().union(*(e.fields for k, e in entries.items() if k != mine)) if entries else frozenset()
    merged = remove(merged, set(last - applied - others))
    comparison = compare(base, merged, creating=live is None)
    changed = comparison.modified | comparison.added
    conflicts = []
    for key, entry in entries.items():
        if key == mine:
            continue
        for path in sorted(entry.fields & changed):
            conflicts.append((entry.manager, entry.api_version, path))
    if conflicts and not force:
        raise ApplyConflictError([(m, v, to_dotted(p)) for m, v, p in conflicts])
    for key, entry in list(entries.items()):
        if key != mine:
            kept = entry.fields - changed - comparison.removed
            if kept != entry.fields:
                entries[key] = _with(entry, kept)
    version = config.get("apiVersion", "")
    previous = entries.get(mine)
    if previous is None or previous.fields != applied or previous.api_version != version:
        entries[mine] = Entry(manager, APPLY, version, now, applied)
    merged.setdefault("metadata", {})
    for name in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        if live is not None and name in live.get("metadata", {}):
            merged["metadata"][name] = live["metadata"][name]
    if live is not None and "status" in live:
        merged["status"] = copy.deepcopy(live["status"])
    return _encoded(merged, entries)


def _with(entry: Entry, fields: FieldSet) -> Entry:
    return Entry(entry.manager, entry.operation, entry.api_version, entry.time, fields)


def _encoded(obj: dict, entries: dict[tuple[str, str], Entry]) -> dict:
    """managedfields.sortEncodedManagedFields: by operation (Apply first), time, manager, apiVersion; empty
    entries are dropped."""
    result = copy.deepcopy(obj)
    kept = sorted((e for e in entries.values() if e.fields),
                  key=lambda e: (e.operation, e.time, e.manager, e.api_version))  # fmt: skip
    meta = result.setdefault("metadata", {})
    if kept:
        meta["managedFields"] = [e.encode() for e in kept]
    else:
        meta.pop("managedFields", None)
    return result


def _clean(obj: dict | None) -> dict:
    """The object as the field manager compares it: no managedFields, no status (reset for the main resource)."""
    result = copy.deepcopy(obj or {})
    (result.get("metadata") or {}).pop("managedFields", None)
    result.pop("status", None)
    return result


def _owned(paths: set[Path]) -> FieldSet:
    return frozenset(
        p for p in paths if p and p not in _STRIPPED and not any(p[: len(r)] == r for r in _RESET_PREFIXES)
    )


# -- FieldsV1 encoding ---------------------------------------------------------------------------------------
def encode(fields: FieldSet) -> dict:
    """A set of paths as FieldsV1: nested keys; `.` marks a path that is itself a member and has children."""
    tree: dict = {}
    for path in fields:
        node = tree
        for key in path:
            node = node.setdefault(key, {})
    members = set(fields)

    def sort(node: dict, path: Path) -> dict:
        out: dict = {}
        if node and path in members:
            out["."] = {}
        for key in sorted(node):
            out[key] = sort(node[key], (*path, key))
        return out

    return {key: sort(tree[key], (key,)) for key in sorted(tree)}


def decode(fields: dict) -> FieldSet:
    out: set[Path] = set()

    def walk(node: dict, path: Path) -> None:
        for key, child in node.items():
            if key == ".":
                out.add(path)
            elif isinstance(child, dict) and child:
                walk(child, (*path, key))
            else:
                out.add((*path, key))

    walk(fields if isinstance(fields, dict) else {}, ())
    return frozenset(out)


def to_dotted(path: Path) -> str:
    """fieldpath.Path.String(): `.spec.template.spec.containers[name="api"].envFrom`."""
    out = ""
    for key in path:
        if key.startswith("f:"):
            out += "." + key[2:]
        elif key.startswith("k:"):
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(key[2:]).items()) + "]"
        elif key.startswith("v:"):
            out += "[=" + key[2:] + "]"
    return out
