"""What operators and dashboards see of a running server: the effectiveness metrics of a period
(`dashboard`) and the Prometheus metrics of the service itself (`prometheus`, `endpoint`)."""
