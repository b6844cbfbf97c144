"""Ask Forestall for the effectiveness metrics of a period, as a dashboard would (admin RPC GetMetrics).

python examples/metrics.py --target 127.0.0.1:50051 --from 2026-03-01 --to 2026-04-01 --bucket week
"""

import argparse

import grpc

from engine.api.generated import admin_pb2, admin_pb2_grpc


def shown(message, field: str = "value") -> str:
    return f"{getattr(message, field):.4g}" if message.HasField(field) else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="127.0.0.1:50051")
    parser.add_argument("--from", dest="start", required=True, help="ISO 8601 date or time")
    parser.add_argument("--to", dest="end", required=True, help="ISO 8601 date or time (excluded)")
    parser.add_argument("--bucket", choices=["day", "week", "month"], default="month")
    args = parser.parse_args()

    with grpc.insecure_channel(args.target) as channel:
        response = admin_pb2_grpc.AdminServiceStub(channel).GetMetrics(
            admin_pb2.GetMetricsRequest(
                from_date=args.start,
                to_date=args.end,
                bucket=admin_pb2.MetricsBucket.Value(f"METRICS_BUCKET_{args.bucket.upper()}"),
            ),
            timeout=60,
        )
    control = response.control
    print(
        f"{response.period.label}: {response.customers_read} customers,"
        f" {control.control_customers} in control (share {control.control_share:g})"
    )
    for metric in response.metrics:
        series = " ".join(shown(point) for point in metric.series)
        line = f"- {metric.name} = {shown(metric)}   by {args.bucket}: {series}"
        if metric.HasField("uplift"):
            interval = f"[{shown(metric.uplift, 'low')}, {shown(metric.uplift, 'high')}]"
            line += f"   treated - control {shown(metric.uplift, 'difference')} {interval}"
        print(line)
    for funnel in response.by_family:
        print(f"  {funnel.value}: {funnel.actions} actions, acceptance {shown(funnel, 'acceptance_rate')}")


if __name__ == "__main__":
    main()
