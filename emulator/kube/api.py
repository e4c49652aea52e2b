"""The Kubernetes API of one emulated AKS cluster: discovery, CRUD, lists, the three patch types, RBAC."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable

import jsonpatch
import kubernetes_validate
import yaml

from emulator.http import HttpError, Principal, Request, Response
from emulator.kube import errors, fields
from emulator.kube.resources import BY_PLURAL, GROUPS, KINDS, Kind
from emulator.kube.selectors import field_selector, label_selector
from emulator.kube.smp import SmpError, strategic_merge_patch
from emulator.kube.store import ObjectStore, defaulted, now_timestamp
from emulator.kube.tables import table, wants_table

Authorizer = Callable[[Principal, str, str], bool]
SCHEMA_VERSION = "1.37.0"  # the newest schemas kubernetes-validate ships (kubectl 1.37)
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# k8s.io/apimachinery/pkg/util/validation: the messages the apiserver appends to an invalid name
_SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json",
               APPLY_PATCH)  # fmt: skip
VERBS = {"GET": "read", "POST": "write", "PUT": "write", "PATCH": "write", "DELETE": "delete"}
K8S_VERBS = {("GET", True): "get", ("GET", False): "list", ("POST", False): "create", ("PUT", True): "update",
             ("PATCH", True): "patch", ("DELETE", True): "delete"}  # fmt: skip


def data_action(group: str, plural: str, operation: str) -> str:
    """The Azure RBAC data action AKS checks for an operation (read, write, delete, or VERB/action) on a resource."""
    group_path = f"{group}/" if group else ""
    return f"Microsoft.ContainerService/managedClusters/{group_path}{plural}/{operation}"


class KubeApi:
    def __init__(self, store: ObjectStore, cluster_scope: str, authorize: Authorizer | None = None):
        self.store = store
        self.cluster_scope = cluster_scope
        self.authorize = authorize

    def handle(self, request: Request, path: str) -> Response:
        segments = [s for s in path.split("/") if s]
        discovery = self._discovery(segments)
        if discovery is not None:
            return discovery
        if request.principal is None:
            raise errors.status_error(401, "Unauthorized", "Unauthorized")
        kind, namespace, name = self._route(segments)
        self._authorize(request, kind, namespace, name)
        if request.method == "GET":
            return self._get(request, kind, namespace, name) if name else self._list(request, kind, namespace)
        if request.query.get("dryRun") == "All":  # the same answer, nothing stored
            with self.store.rolled_back():
                return self._write(request, kind, namespace, name)
        return self._write(request, kind, namespace, name)

    def _write(self, request: Request, kind: Kind, namespace: str | None, name: str | None) -> Response:
        if request.method == "POST" and not name:
            return self._create(request, kind, namespace)
        if request.method == "PUT" and name:
            return self._update(request, kind, namespace, name)
        if request.method == "PATCH" and name:
            return self._patch(request, kind, namespace, name)
        if request.method == "DELETE" and name:
            return self._delete(request, kind, namespace, name)
        raise errors.status_error(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )

    # -- routing ---------------------------------------------------------------------------------------
    def _route(self, segments: list[str]) -> tuple[Kind, str | None, str | None]:
        if segments[:2] == ["api", "v1"]:
            group, rest = "", segments[2:]
        elif len(segments) >= 3 and segments[0] == "apis" and GROUPS.get(segments[1]) == segments[2]:
            group, rest = segments[1], segments[3:]
        else:
            raise errors.status_error(404, "NotFound", "the server could not find the requested resource")
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        kind = BY_PLURAL.get(rest[0]) if rest else None
        if kind is None or kind.group != group or len(rest) > 2 or (namespace and not kind.namespaced):
            raise errors.status_error(404, "NotFound", "the server could not find the requested resource")
        return kind, namespace, rest[1] if len(rest) == 2 else None

    def _authorize(self, request: Request, kind: Kind, namespace: str | None, name: str | None) -> None:
        if self.authorize is None:
            return
        action = data_action(kind.group, kind.plural, VERBS[request.method])
        if self.authorize(request.principal, action, self.cluster_scope):
            return
        verb = K8S_VERBS.get((request.method, bool(name)), request.method.lower())
        target = (
            f'{errors.qualified(kind.plural, kind.group)} "{name}"'
            if name
            else errors.qualified(kind.plural, kind.group)
        )
        where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
        raise errors.status_error(
            403,
            "Forbidden",
            f'{target} is forbidden: User "{request.principal.object_id}" cannot {verb} resource "{kind.plural}" '
            f'in API group "{kind.group}"{where}',
            {"name": name or "", "group": kind.group, "kind": kind.plural},
        )

    # -- reads -----------------------------------------------------------------------------------------
    def _get(self, request: Request, kind: Kind, namespace: str | None, name: str) -> Response:
        obj = self.store.get(kind.plural, namespace, name)
        if obj is None:
            raise errors.not_found(kind.plural, kind.group, name)
        if wants_table(request.header("accept")):
            metadata = {"resourceVersion": obj["metadata"]["resourceVersion"]}
            return Response(200, table(kind, [obj], metadata, request.query.get("includeObject")))
        if "as=PartialObjectMetadata" in (request.header("accept") or ""):
            return Response(200, _metadata_only(obj))
        return Response(200, obj)

    def _list(self, request: Request, kind: Kind, namespace: str | None) -> Response:
        if request.query.get("watch") in ("1", "true"):
            raise errors.status_error(405, "MethodNotAllowed", "watch is not supported by the local cloud")
        items = self.store.list(kind.plural, namespace)
        if request.query.get("labelSelector"):
            items = [o for o in items if label_selector(request.query["labelSelector"])(o)]
        if request.query.get("fieldSelector"):
            items = [o for o in items if field_selector(request.query["fieldSelector"])(o)]
        offset = _decode_continue(request.query.get("continue"))
        limit = int(request.query.get("limit") or 0)
        page = items[offset : offset + limit] if limit else items[offset:]
        metadata: dict = {"resourceVersion": self.store.resource_version}
        if limit and offset + limit < len(items):
            metadata["continue"] = base64.urlsafe_b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
            metadata["remainingItemCount"] = len(items) - offset - limit
        if wants_table(request.header("accept")):
            return Response(200, table(kind, page, metadata, request.query.get("includeObject")))
        if "as=PartialObjectMetadataList" in (request.header("accept") or ""):
            return Response(
                200,
                {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
                 "items": [_metadata_only(o) for o in page]},
            )  # fmt: skip
        for obj in page:  # list items carry no kind/apiVersion on the wire
            obj.pop("kind", None)
            obj.pop("apiVersion", None)
        return Response(
            200, {"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": metadata, "items": page}
        )

    # -- writes ----------------------------------------------------------------------------------------
    def _create(self, request: Request, kind: Kind, namespace: str | None) -> Response:
        obj = self._body(request)
        meta = obj.setdefault("metadata", {})
        if namespace:
            if meta.get("namespace", namespace) != namespace:
                raise errors.status_error(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            meta["namespace"] = namespace
        obj.setdefault("apiVersion", kind.api_version)
        obj.setdefault("kind", kind.kind)
        self._validate(kind, obj)
        return Response(201, self.store.create(_tracked(request, None, defaulted(kind, obj))))

    def _update(self, request: Request, kind: Kind, namespace: str | None, name: str) -> Response:
        obj = self._body(request)
        obj.setdefault("metadata", {}).setdefault("namespace", namespace) if namespace else None
        if obj["metadata"].get("name") != name:
            raise errors.status_error(400, "BadRequest", "the name of the object does not match the name on the URL")
        self._validate(kind, obj)
        current = self.store.get(kind.plural, namespace, name)
        if current is None:
            raise errors.not_found(kind.plural, kind.group, name)
        _check_immutable(kind, current, obj)
        return Response(200, self.store.update(_tracked(request, current, defaulted(kind, obj))))

    def _patch(self, request: Request, kind: Kind, namespace: str | None, name: str) -> Response:
        content_type = (request.header("content-type") or "").split(";")[0].strip()
        if content_type not in PATCH_TYPES:
            raise errors.status_error(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                + ", ".join(PATCH_TYPES),
            )
        current = self.store.get(kind.plural, namespace, name)
        if content_type == APPLY_PATCH:
            return self._apply(request, kind, namespace, name, current)
        if current is None:
            raise errors.not_found(kind.plural, kind.group, name)
        patch = self._json(request)
        try:
            if content_type == "application/json-patch+json":
                patched = json_patch(current, patch)
            elif content_type == "application/merge-patch+json":
                patched = merge_patch(current, patch)
            else:
                patched = strategic_merge_patch(current, patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException):
            # patch.go: NewGenericServerResponse(422, ...) drops the patch library's error: a failed `test` and a
            # missing path answer alike, with empty details (checked against kube-apiserver v1.37.2)
            raise errors.status_error(
                422, "Invalid", "the server rejected our request due to an error in our request", {}
            ) from None
        except (SmpError, TypeError, AttributeError) as error:
            raise errors.status_error(400, "BadRequest", str(error)) from None
        if not isinstance(patched, dict):
            raise errors.status_error(400, "BadRequest", "the patch does not produce an object")
        if patched.get("metadata", {}).get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise errors.conflict(kind.plural, kind.group, name)
        if (patched.get("metadata") or {}).get("name") != name:
            raise errors.status_error(400, "BadRequest", "metadata.name cannot be changed by a patch")
        self._validate(kind, patched)
        _check_immutable(kind, current, patched)
        return Response(200, self.store.update(_tracked(request, current, defaulted(kind, patched))))

    def _apply(self, request: Request, kind: Kind, namespace: str | None, name: str, current: dict | None) -> Response:
        """Server-side apply (PATCH application/apply-patch+yaml): create or merge under `fieldManager`, which
        owns exactly the fields of its configuration; another manager's field it would change is a conflict
        (409) unless `force=true`."""
        manager = request.query.get("fieldManager") or ""
        if not manager:
            raise errors.status_error(
                422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
                "for apply patch",
            )  # fmt: skip
        try:
            config = yaml.safe_load(request.body or b"")
        except yaml.YAMLError as error:
            raise errors.status_error(400, "BadRequest", f"error decoding YAML: {error}") from None
        if not isinstance(config, dict):
            raise errors.status_error(400, "BadRequest", "the apply configuration must be an object")
        meta = config.setdefault("metadata", {})
        if meta.get("name", name) != name:
            raise errors.status_error(400, "BadRequest", "the name of the object does not match the name on the URL")
        if namespace:
            meta.setdefault("namespace", namespace)
        if config.get("apiVersion") != kind.api_version or config.get("kind") != kind.kind:
            raise errors.status_error(400, "BadRequest", f"the object must be {kind.api_version} {kind.kind}")
        sent = meta.pop("resourceVersion", None)
        if sent and current is not None and sent != current["metadata"]["resourceVersion"]:
            raise errors.conflict(kind.plural, kind.group, name)
        force = request.query.get("force") in ("true", "1")
        try:
            applied = fields.track_apply(current, config, manager, force, now_timestamp())
        except fields.ApplyConflictError as conflict:
            raise _apply_conflict(conflict) from None
        self._validate(kind, applied)
        applied = defaulted(kind, applied)
        if current is None:
            return Response(201, self.store.create(applied))
        _check_immutable(kind, current, applied)
        return Response(200, self.store.update(applied))

    def _delete(self, request: Request, kind: Kind, namespace: str | None, name: str) -> Response:
        current = self.store.get(kind.plural, namespace, name)
        if current is None:
            raise errors.not_found(kind.plural, kind.group, name)
        options = self._json(request) if request.body else {}
        preconditions = (options or {}).get("preconditions") or {}
        meta = current["metadata"]
        qualified = errors.qualified(kind.plural, kind.group)
        if preconditions.get("uid") and preconditions["uid"] != meta["uid"]:
            raise errors.status_error(
                409, "Conflict",
                f'Operation cannot be fulfilled on {qualified} "{name}": Precondition failed: '
                f'UID in precondition: {preconditions["uid"]}, UID in object meta: {meta["uid"]}',
            )  # fmt: skip
        if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta["resourceVersion"]:
            raise errors.status_error(
                409, "Conflict",
                f'Operation cannot be fulfilled on {qualified} "{name}": Precondition failed: '
                f'ResourceVersion in precondition: {preconditions["resourceVersion"]}, ResourceVersion in object meta: '
                f'{meta["resourceVersion"]}',
            )  # fmt: skip
        self.store.delete(kind.plural, namespace, name)
        details = {"name": name, "group": kind.group, "kind": kind.plural, "uid": meta["uid"]}
        return Response(
            200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
        )

    # -- helpers ---------------------------------------------------------------------------------------
    def _json(self, request: Request):
        try:
            return json.loads(request.body or b"null")
        except ValueError as error:
            raise errors.status_error(400, "BadRequest", f"the request body is not valid JSON: {error}") from None

    def _body(self, request: Request) -> dict:
        body = self._json(request)
        if not isinstance(body, dict):
            raise errors.status_error(400, "BadRequest", "the request body must be an object")
        return body

    def _validate(self, kind: Kind, obj: dict) -> None:
        name = (obj.get("metadata") or {}).get("name") or ""
        if not name:
            raise errors.invalid(kind.kind, kind.group, name, [{
                "reason": "FieldValueRequired", "field": "metadata.name",
                "message": "Required value: name or generateName is required",
            }])  # fmt: skip
        label = kind.plural == "namespaces"
        if len(name) > (63 if label else 253) or not (_DNS1123_LABEL if label else _DNS1123_SUBDOMAIN).match(name):
            raise errors.invalid(kind.kind, kind.group, name, [{
                "reason": "FieldValueInvalid", "field": "metadata.name",
                "message": f"Invalid value: {json.dumps(name)}: " + (_LABEL_RULE if label else _SUBDOMAIN_RULE),
            }])  # fmt: skip
        if obj.get("apiVersion") != kind.api_version or obj.get("kind") != kind.kind:
            raise errors.status_error(400, "BadRequest", f"the object must be {kind.api_version} {kind.kind}")
        try:
            kubernetes_validate.validate(obj, SCHEMA_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            field = ".".join(str(p) for p in error.path) or "<root>"
            raise errors.invalid(
                kind.kind, kind.group, name, [{"reason": "FieldValueInvalid", "field": field, "message": error.message}]
            ) from None

    # -- discovery -------------------------------------------------------------------------------------
    def _discovery(self, segments: list[str]) -> Response | None:
        if segments == ["version"]:
            return Response(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.2", "platform": "linux/amd64"})
        if segments == ["api"]:
            return Response(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if segments == ["apis"]:
            groups = [_group(name, version) for name, version in GROUPS.items()]
            return Response(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if len(segments) == 2 and segments[0] == "apis" and segments[1] in GROUPS:
            return Response(200, {"kind": "APIGroup", "apiVersion": "v1", **_group(segments[1], GROUPS[segments[1]])})
        if segments == ["api", "v1"] or (
            len(segments) == 3 and segments[0] == "apis" and GROUPS.get(segments[1]) == segments[2]
        ):
            group = "" if segments[0] == "api" else segments[1]
            return Response(200, {
                "kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": "v1" if not group else f"{group}/{GROUPS[group]}",
                "resources": [_resource(k) for k in KINDS if k.group == group],
            })  # fmt: skip
        if segments and segments[0] in ("openapi", "swagger.json"):
            raise HttpError(
                Response(
                    404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
                )
            )
        return None


def json_patch(document: dict, operations: object) -> object:
    """RFC 6902 (the API server answers any operation that does not apply with one generic 422, see _patch)."""
    if not isinstance(operations, list):
        raise errors.status_error(
            400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        )
    return jsonpatch.apply_patch(document, operations)


def merge_patch(target: object, patch: object) -> object:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# StatefulSet update validation: every other spec field is frozen after create
_STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                        "minReadySeconds", "revisionHistoryLimit")  # fmt: skip


def _check_immutable(kind: Kind, old: dict, new: dict) -> None:
    """The update validation that bites wiring code: a Job's pod template and workload selectors are immutable."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    causes = []
    frozen = {"Job": ("selector", "template"), "CronJob": ()}.get(
        kind.kind, ("selector",) if kind.has_generation else ()
    )
    for field in frozen:
        if old_spec.get(field) != new_spec.get(field):
            value = json.dumps(new_spec.get(field))
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "field": f"spec.{field}",
                    "message": f"Invalid value: {value}: field is immutable",
                }
            )
    if kind.kind == "StatefulSet":
        strip = [{k: v for k, v in spec.items() if k not in _STATEFULSET_MUTABLE} for spec in (old_spec, new_spec)]
        if strip[0] != strip[1]:
            causes.append({"reason": "FieldValueForbidden", "field": "spec", "message": (
                "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
                "'minReadySeconds' are forbidden")})  # fmt: skip
    if causes:
        raise errors.invalid(kind.kind, kind.group, old["metadata"]["name"], causes)


def _manager(request: Request) -> str:
    """`fieldManager`, else the User-Agent up to its first '/' (managedfields: prefixFromUserAgent)."""
    return request.query.get("fieldManager") or (request.header("user-agent") or "").split("/")[0][:128]


def _tracked(request: Request, current: dict | None, new: dict) -> dict:
    """`new` with managedFields recomputed from `current`'s (any the client sent are ignored)."""
    return fields.track_update(current, new, _manager(request), now_timestamp())


def _apply_conflict(conflict: fields.ApplyConflictError) -> HttpError:
    """Worded as the apiserver words apply conflicts (internal.NewConflictError)."""
    items = conflict.conflicts
    causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{m}" using {v}', "field": path}
              for m, v, path in items]  # fmt: skip
    if len(items) == 1:
        manager, version, path = items[0]
        message = f'Apply failed with 1 conflict: conflict with "{manager}" using {version}: {path}'
    else:
        by_manager: dict[tuple[str, str], list[str]] = {}
        for manager, version, path in items:
            by_manager.setdefault((manager, version), []).append(path)
        parts = [f'conflicts with "{m}" using {v}:\n' + "\n".join(f"- {p}" for p in paths)
                 for (m, v), paths in by_manager.items()]  # fmt: skip
        message = f"Apply failed with {len(items)} conflicts: " + "\n".join(parts)
    return errors.status_error(409, "Conflict", message, {"causes": causes})


def _metadata_only(obj: dict) -> dict:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def _decode_continue(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token))["offset"])
    except (ValueError, KeyError, TypeError):
        raise errors.status_error(410, "Expired", "The provided continue parameter is too old or malformed") from None


def _group(name: str, version: str) -> dict:
    gv = {"groupVersion": f"{name}/{version}", "version": version}
    return {"name": name, "versions": [gv], "preferredVersion": gv}


def _resource(kind: Kind) -> dict:
    verbs = ["create", "delete", "get", "list", "patch", "update"]
    return {"name": kind.plural, "singularName": kind.kind.lower(), "namespaced": kind.namespaced, "kind": kind.kind,
            "verbs": verbs, "shortNames": list(kind.short_names)}  # fmt: skip
