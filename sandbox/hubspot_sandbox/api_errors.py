"""HubSpot's error answers: one exception carrying status, category and message, rendered in HubSpot's JSON shape."""

from __future__ import annotations

import uuid


def correlation_id() -> str:
    return str(uuid.uuid4())


class ApiError(Exception):
    """An error the sandbox answers the way HubSpot does (``status: error``, ``category``, ``correlationId``)."""

    def __init__(self, status: int, category: str, message: str, **extra: object):
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.extra = extra

    def body(self, correlation: str | None = None) -> dict:
        body = {"status": "error", "message": self.message, "correlationId": correlation or correlation_id(),
                "category": self.category}
        body.update(self.extra)
        return body


def validation_error(message: str, **extra: object) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, **extra)


def not_found(object_type: str, object_id: str) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.",
                    context={"id": [object_id]}, objectType=object_type)
