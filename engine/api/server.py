"""Assemble and run the gRPC server: services, health, reflection, graceful stop."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from engine import __version__
from engine.access import parse_tokens
from engine.api.auth import AuthInterceptor
from engine.api.generated import admin_pb2, admin_pb2_grpc, decision_pb2, decision_pb2_grpc
from engine.api.interceptors import ErrorInterceptor, MetricsInterceptor
from engine.api.servicers import AdminServicer, DecisionServicer
from engine.config import Settings
from engine.decision.engine import DecisionEngine
from engine.models.serving import LiveModels
from engine.observability.endpoint import MetricsEndpoint, serve_metrics
from engine.observability.prometheus import ServerMetrics
from engine.replay.decision_log import DecisionLog
from engine.ruleset.live import LiveRuleSet
from engine.ruleset.probe import start_fork_server
from engine.store import open_store
from engine.store.timed import TimedStore

log = structlog.get_logger(__name__)

SERVICE_NAMES = (
    decision_pb2.DESCRIPTOR.services_by_name["DecisionService"].full_name,
    admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name,
)


def wall_clock() -> datetime:
    """The only clock the engine knows: read here, at the service edge, and passed in."""
    return datetime.now(UTC)


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    engine: DecisionEngine
    health: health.HealthServicer
    decision_log: DecisionLog | None = None
    metrics_endpoint: MetricsEndpoint | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    watchers: list[threading.Thread] = field(default_factory=list)

    def watch(self, name: str, target: Callable[..., None], *args: object) -> None:
        """Run a watcher thread until the server stops."""
        watcher = threading.Thread(target=target, args=args, name=name, daemon=True)
        watcher.start()
        self.watchers.append(watcher)

    def stop(self, grace: float) -> None:
        self.stopping.set()
        for watcher in self.watchers:
            watcher.join()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        if self.decision_log is not None:  # after the last decision
            self.decision_log.close()
        if self.metrics_endpoint is not None:
            self.metrics_endpoint.stop()
        self.engine.rules.close()
        self.engine.store.close()


def start_server(settings: Settings, clock: Callable[[], datetime] = wall_clock) -> RunningServer:
    """Load rules and store, and start serving on settings.host:settings.port (0 picks a free port)."""
    decision_log = DecisionLog(settings.decision_log) if settings.decision_log else None  # a bad path: stop here
    # With the endpoint off, nothing is measured either: no interceptor, wrapper or hook costs a decision anything.
    metrics = ServerMetrics() if settings.prometheus_port is not None else None
    store = open_store(settings.store, settings.max_events_per_customer)
    if metrics is not None:
        store = TimedStore(store, metrics.store_call)
    rules = LiveRuleSet(
        settings.rules_dir, clock(), settings.rules_probe_timeout, on_reload=metrics and metrics.rules_reloaded
    )
    models = LiveModels(settings.models_dir, on_reload=metrics and metrics.models_reloaded)
    engine = DecisionEngine(
        store,
        rules,
        models,
        decision_log=decision_log,
        observer=metrics and metrics.decided,
    )
    tokens = parse_tokens(settings.auth_tokens.get_secret_value())
    if not tokens:
        log.warning("auth_disabled", hint="set FORESTALL_AUTH_TOKENS so decision clients cannot call admin operations")
    interceptors: list[grpc.ServerInterceptor] = [MetricsInterceptor(metrics)] if metrics is not None else []
    interceptors += [AuthInterceptor(tokens), ErrorInterceptor()] if tokens else [ErrorInterceptor()]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="rpc"),
        interceptors=interceptors,
        options=[("grpc.so_reuseport", 0)],
    )
    decision_pb2_grpc.add_DecisionServiceServicer_to_server(DecisionServicer(engine, clock), server)
    admin = AdminServicer(engine, models, clock, clock(), __version__)
    admin_pb2_grpc.add_AdminServiceServicer_to_server(admin, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(f"{settings.host}:{settings.port}")
    if port == 0:
        raise OSError(f"cannot listen on {settings.host}:{settings.port}")
    endpoint = None
    if metrics is not None and settings.prometheus_port is not None:
        try:
            endpoint = serve_metrics(metrics.registry, settings.host, settings.prometheus_port)
        except OSError:  # nothing is served yet: let go of what was opened
            rules.close()
            store.close()
            raise
    server.start()
    log.info(
        "serving",
        address=f"{settings.host}:{port}",
        ruleset_version=engine.rules.current.ruleset.version,
        rules=len(engine.rules.current.ruleset.rules),
        model_version=models.current.version,
        store=store.location,
        decision_log=settings.decision_log or None,
        prometheus=f"{settings.host}:{endpoint.port}" if endpoint else None,
    )
    running = RunningServer(server, port, engine, health_servicer, decision_log, endpoint)
    if settings.rules_poll_seconds > 0:
        start_fork_server()
        running.watch("rules-watcher", rules.watch, clock, running.stopping, settings.rules_poll_seconds)
    if settings.models_poll_seconds > 0:
        running.watch("models-watcher", models.watch, running.stopping, settings.models_poll_seconds)
    return running


def serve_until_signalled(running: RunningServer, grace: float) -> None:
    """Block until SIGTERM or SIGINT, then stop gracefully: in-flight calls get `grace` seconds."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    stopping.wait()
    log.info("stopping", grace_seconds=grace)
    running.stop(grace)
    log.info("stopped")
