"""The one place where errors become gRPC statuses, and where each call's log context is bound."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import structlog

from engine.errors import ForestallError

log = structlog.get_logger(__name__)


def _abort(error: BaseException, context: grpc.ServicerContext) -> None:
    if isinstance(error, ForestallError):
        log.info("request_refused", status=error.status, error=str(error))
        context.abort(grpc.StatusCode[error.status], str(error))
    reference = uuid.uuid4().hex[:12]
    log.exception("request_failed", reference=reference)
    context.abort(grpc.StatusCode.INTERNAL, f"internal error; the server log has details under reference {reference}")


class ErrorInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Maps ForestallError to its status; anything else is INTERNAL, logged with its traceback, never leaked."""

    def __init__(self) -> None:
        # gRPC asks for every call; the wrapped handler of a method never changes.
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler], details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method = details.method
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            wrapped = self._wrap(continuation(details), method)
            if wrapped is not None:  # unknown methods are not kept: callers choose their names
                self._wrapped[method] = wrapped
        return wrapped

    @staticmethod
    def _wrap(handler: grpc.RpcMethodHandler | None, method: str) -> grpc.RpcMethodHandler | None:
        if handler is None:
            return None
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


def _unary(behaviour: Callable[[Any, grpc.ServicerContext], Any], method: str) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        structlog.contextvars.bind_contextvars(method=method)
        try:
            return behaviour(request, context)
        except Exception as error:
            _abort(error, context)
        finally:
            structlog.contextvars.clear_contextvars()

    return call


def _stream(behaviour: Callable[[Any, grpc.ServicerContext], Iterator[Any]], method: str) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        structlog.contextvars.bind_contextvars(method=method)
        try:
            yield from behaviour(request, context)
        except Exception as error:
            _abort(error, context)
        finally:
            structlog.contextvars.clear_contextvars()

    return call
