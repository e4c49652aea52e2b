"""ARM-shaped error responses, worded as Azure Resource Manager words them."""

from __future__ import annotations

from emulator.http import HttpError, Principal, Response


def arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> HttpError:
    return HttpError(Response(status, {"error": {"code": code, "message": message}}, headers or {}))


def not_found(resource_type: str, name: str, resource_group: str | None) -> HttpError:
    if resource_type.lower() == "microsoft.resources/resourcegroups":
        return arm_error(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
    where = f" under resource group '{resource_group}'" if resource_group else ""
    return arm_error(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}'{where} was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def authorization_failed(principal: Principal, action: str, scope: str) -> HttpError:
    return arm_error(
        403,
        "AuthorizationFailed",
        f"The client '{principal.client_id}' with object id '{principal.object_id}' does not have authorization "
        f"to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently "
        "granted, please refresh your credentials.",
    )


def missing_registration(namespace: str) -> HttpError:
    return arm_error(
        409,
        "MissingSubscriptionRegistration",
        f"The subscription is not registered to use namespace '{namespace}'. "
        "See https://aka.ms/rps-not-found for how to register subscriptions.",
    )


def bad_request(message: str, code: str = "BadRequest") -> HttpError:
    return arm_error(400, code, message)
