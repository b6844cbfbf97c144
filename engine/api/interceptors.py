"""The one place where errors become gRPC statuses, where each call's log context is bound, and where
calls are timed and counted for Prometheus."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import structlog

from engine.api.generated import common_pb2, decision_pb2
from engine.errors import ForestallError
from engine.observability.prometheus import ServerMetrics

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
        return _rewrapped(handler, _unary(handler.unary_unary, method), _stream(handler.unary_stream, method))


def _rewrapped(
    handler: grpc.RpcMethodHandler, unary: Callable[..., Any], stream: Callable[..., Any]
) -> grpc.RpcMethodHandler:
    """The handler with its unary or server-streaming behaviour replaced; other kinds are left as they are."""
    serializers = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(unary, **serializers)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(stream, **serializers)
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


FORESTALL_SERVICES = ("/forestall.v1.DecisionService/", "/forestall.v1.AdminService/")
_EVENT_RESULT = {
    decision_pb2.EventStatus.ACCEPTED: "accepted",
    decision_pb2.EventStatus.DUPLICATE: "duplicate",
    decision_pb2.EventStatus.REJECTED: "rejected",
}
# Told of a finished call: the metrics, its request, its response (None if it failed) and its status code.
Counted = Callable[[ServerMetrics, Any, Any, str], None]


class MetricsInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """Times each call to Forestall's services and counts its status. It goes first, so that the
    authentication refusals and the errors the other interceptors map are counted too."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics
        # method -> (the handler it wrapped, the wrapper): reused while the chain below returns the same handler.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler], details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        method = details.method
        if handler is None or not method.startswith(FORESTALL_SERVICES):  # unknown names, health, reflection
            return handler
        kept = self._wrapped.get(method)
        if kept is not None and kept[0] is handler:
            return kept[1]
        rpc = method.rsplit("/", 1)[-1]
        counted = _COUNTED.get(rpc)
        wrapped = _rewrapped(
            handler,
            _timed_unary(handler.unary_unary, rpc, self._metrics, counted),
            _timed_stream(handler.unary_stream, rpc, self._metrics),
        )
        self._wrapped[method] = (handler, wrapped)
        return wrapped


def _status(context: grpc.ServicerContext, unset: str) -> str:
    """The name of the status the call ended with; `unset` when nothing set one."""
    code = context.code()
    return str(code.name) if code is not None else unset


def _timed_unary(
    behaviour: Callable[[Any, grpc.ServicerContext], Any], rpc: str, metrics: ServerMetrics, counted: Counted | None
) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Any:
        start = time.perf_counter()
        response = None
        try:
            response = behaviour(request, context)
            return response
        finally:
            code = _status(context, "OK" if response is not None else "UNKNOWN")
            metrics.rpc_finished(rpc, code, time.perf_counter() - start)
            if counted is not None:
                counted(metrics, request, response, code)

    return call


def _timed_stream(
    behaviour: Callable[[Any, grpc.ServicerContext], Iterator[Any]], rpc: str, metrics: ServerMetrics
) -> Callable[..., Any]:
    def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        start = time.perf_counter()
        finished = False
        try:
            yield from behaviour(request, context)
            finished = True
        finally:
            # Closed before its end with no status set: the client went away.
            code = _status(context, "OK" if finished else "CANCELLED")
            metrics.rpc_finished(rpc, code, time.perf_counter() - start)

    return call


def _count_events(
    metrics: ServerMetrics,
    request: decision_pb2.IngestEventsRequest,
    response: decision_pb2.IngestEventsResponse | None,
    code: str,
) -> None:
    if response is not None:
        for status in response.statuses:
            metrics.events_ingested(_EVENT_RESULT[status.code])
    elif code == "INVALID_ARGUMENT":  # refused whole: no event of the batch was valid, or it was too large
        metrics.events_ingested("rejected", len(request.events))


def _count_outcome(
    metrics: ServerMetrics,
    request: decision_pb2.RecordOutcomeRequest,
    response: decision_pb2.RecordOutcomeResponse | None,
    code: str,
) -> None:
    if response is not None:
        metrics.outcome_recorded(common_pb2.Outcome.Name(request.outcome).lower())


_COUNTED: dict[str, Counted] = {"IngestEvents": _count_events, "RecordOutcome": _count_outcome}
