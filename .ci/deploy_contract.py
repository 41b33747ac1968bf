"""Checks deploy/ against the metrics contract (DESIGN §8) and PromQL syntax.

Run by .ci/validate-deploy with the CI venv's Python (it needs PyYAML):
  python .ci/deploy_contract.py OUT_DIR
Every `schemagate_*` name in the alert rules and the Grafana dashboard must be a metric
of the contract, and every dashboard query must parse: the queries are written into
OUT_DIR/dashboard-rules.yml, which the caller checks with `promtool check rules`.
"""

import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
PREFIX = "schemagate"
METRICS = {
    "app_version", "schema_version", "schema_current", "schema_min_supported",
    "schema_max_supported", "schema_compatible", "migrations_pending",
    "migration_failures_total", "rollbacks_total", "lock_wait_seconds",
    "backup_last_success_timestamp_seconds", "backup_size_bytes", "backup_duration_seconds",
    "backups_skipped_total", "database_up", "lint_findings", "fleet_replicas", "fleet_blocked",
    "schema_drift", "schema_drift_objects", "schema_drift_check_seconds",
}
HISTOGRAMS = {"migration_duration_seconds"}
KNOWN = {f"{PREFIX}_{m}" for m in METRICS} | {
    f"{PREFIX}_{h}{s}" for h in HISTOGRAMS for s in ("_bucket", "_sum", "_count")
}
NAME = re.compile(rf"\b{PREFIX}_[a-z0-9_]+")
# Grafana's variables, replaced by something PromQL parses.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$job": ".*"}


def dashboard_exprs(dashboard):
    def walk(panels):
        for panel in panels:
            yield from (t["expr"] for t in panel.get("targets", []) if "expr" in t)
            yield from walk(panel.get("panels", []))
    yield from walk(dashboard["panels"])
    yield from (a["expr"] for a in dashboard.get("annotations", {}).get("list", []) if "expr" in a)


def main(out_dir):
    errors = []
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    alert_exprs = [r["expr"] for g in alerts["groups"] for r in g["rules"]]
    names = {r.get("alert") for g in alerts["groups"] for r in g["rules"]}
    for required in ("SchemaIncompatible", "MigrationFailed", "RollbackRequired", "BackupStale",
                     "FleetBlocked"):
        if required not in names:
            errors.append(f"alerts.yml: alert {required} is missing")

    dashboard = json.loads((ROOT / "deploy/grafana/schemagate.json").read_text())
    exprs = list(dashboard_exprs(dashboard))
    if not exprs:
        errors.append("schemagate.json: no queries found")
    for where, expr in [("alerts.yml", e) for e in alert_exprs] + [("schemagate.json", e) for e in exprs]:
        for name in NAME.findall(expr):
            if name not in KNOWN:
                errors.append(f"{where}: {name} is not a metric of the contract")

    rules = []
    for i, expr in enumerate(exprs):
        for var, value in GRAFANA_VARS.items():
            expr = expr.replace(var, value)
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    out = pathlib.Path(out_dir) / "dashboard-rules.yml"
    out.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))

    for error in errors:
        print(error, file=sys.stderr)
    print(f"{len(alert_exprs)} alert and {len(exprs)} dashboard queries use only contract metrics"
          if not errors else f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
