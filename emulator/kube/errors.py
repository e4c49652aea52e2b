"""Kubernetes `Status` errors, worded as kube-apiserver words them."""

from __future__ import annotations

from emulator.http import HttpError, Response


def status_body(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:  # StatusDetails' fields are all omitempty: the core group's "" is left out, as there
        body["details"] = {key: value for key, value in details.items() if value not in ("", None, [])}
    return body


def status_error(code: int, reason: str, message: str, details: dict | None = None) -> HttpError:
    return HttpError(Response(code, status_body(code, reason, message, details)))


def qualified(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> HttpError:
    return status_error(
        404,
        "NotFound",
        f'{qualified(plural, group)} "{name}" not found',
        {"name": name, "group": group, "kind": plural},
    )


def already_exists(plural: str, group: str, name: str) -> HttpError:
    return status_error(
        409,
        "AlreadyExists",
        f'{qualified(plural, group)} "{name}" already exists',
        {"name": name, "group": group, "kind": plural},
    )


def conflict(plural: str, group: str, name: str) -> HttpError:
    return status_error(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "group": group, "kind": plural},
    )


def invalid(kind: str, group: str, name: str, causes: list[dict]) -> HttpError:
    summary = "; ".join(f"{c['field']}: {c['message']}" for c in causes)[:1000]
    return status_error(
        422,
        "Invalid",
        f'{kind}.{group or "core"} "{name}" is invalid: {summary}'
        if group
        else f'{kind} "{name}" is invalid: {summary}',
        {"name": name, "group": group, "kind": kind, "causes": causes},
    )
