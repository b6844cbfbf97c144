"""Authentication and roles: a decision client cannot call admin operations.

Callers send `authorization: Bearer <token>`; each configured token has a role.
`decision` may call DecisionService; `admin` may call it and AdminService. Health
and reflection stay open, so probes and stock tools work without a token. With no
token configured, the server runs open (for a laptop) and says so at start.
Tokens are compared by their SHA-256 digest and never logged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import grpc
import structlog

from engine.access import GRANTED_BY, digest

log = structlog.get_logger(__name__)

# The role each service needs; a service not listed here is open.
REQUIRED_ROLE = {"forestall.v1.DecisionService": "decision", "forestall.v1.AdminService": "admin"}


class AuthInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = dict(tokens)

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler], details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        service = details.method.rsplit("/", 2)[-2] if details.method.count("/") >= 2 else ""
        required = REQUIRED_ROLE.get(service)
        handler = continuation(details)
        if required is None or handler is None:
            return handler
        role = self._role(dict(details.invocation_metadata or ()))
        if role is None:
            return _refusal(
                handler, grpc.StatusCode.UNAUTHENTICATED, "a valid `authorization: Bearer <token>` is required"
            )
        if role not in GRANTED_BY[required]:
            log.warning("permission_denied", method=details.method, role=role)
            return _refusal(handler, grpc.StatusCode.PERMISSION_DENIED, f"the {role} role cannot call {details.method}")
        return handler

    def _role(self, metadata: Mapping[str, Any]) -> str | None:
        scheme, _, token = str(metadata.get("authorization", "")).partition(" ")
        return self._tokens.get(digest(token)) if scheme.lower() == "bearer" and token else None


def _refusal(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    def refuse(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(code, message)

    serializers = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse, **serializers)
    return grpc.unary_unary_rpc_method_handler(refuse, **serializers)
