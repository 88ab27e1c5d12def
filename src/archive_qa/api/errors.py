"""One error shape for the API: {"detail": [{"loc", "msg"}]} with the parameter named."""

from __future__ import annotations

from fastapi import HTTPException


def bad_parameter(location: str, name: str, message: str) -> HTTPException:
    """A 422 naming the parameter, in FastAPI's own validation-error shape."""
    return HTTPException(status_code=422, detail=[{"loc": [location, name], "msg": message,
                                                   "type": "value_error"}])
