"""``kubectl evently``: status, open-sale, close-sale, drain and bench.

    kubectl evently status [NAME] [-n NS | -A]
    kubectl evently open-sale NAME NOW|TIME [--until TIME]
    kubectl evently close-sale NAME [NOW|TIME]
    kubectl evently drain NAME [--timeout 600]
    kubectl evently bench --url URL --admin-token TOKEN [--seats N --buyers N] --yes

Cluster access is kubectl's: ``--kubeconfig``, ``--context``, ``-n`` (default: the
context's namespace), through the official ``kubernetes`` client.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from evently_operator.kubectl import bench, sale, views
from evently_operator.resource import GROUP, PLURAL, VERSION


class Cluster:
    """The few API calls the plugin makes."""

    def __init__(self, kubeconfig: str | None, context: str | None) -> None:
        config.load_kube_config(config_file=kubeconfig, context=context)
        _, active = config.list_kube_config_contexts(config_file=kubeconfig)
        chosen = active
        if context:
            contexts, _ = config.list_kube_config_contexts(config_file=kubeconfig)
            chosen = next((c for c in contexts if c["name"] == context), active)
        self.default_namespace = (chosen or {}).get("context", {}).get("namespace") or "default"
        self.custom = client.CustomObjectsApi()
        self.apps = client.AppsV1Api()
        self.autoscaling = client.AutoscalingV1Api()

    def events(self, namespace: str | None) -> list[dict[str, Any]]:
        if namespace is None:
            listing = self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
        else:
            listing = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        return sorted(
            listing.get("items", []),
            key=lambda e: (e["metadata"]["namespace"], e["metadata"]["name"]),
        )

    def event(self, namespace: str, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def patch(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, body
        )

    def target(self, namespace: str, deployment: str) -> views.TargetState | None:
        try:
            found = self.apps.read_namespaced_deployment(deployment, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        hpas = self.autoscaling.list_namespaced_horizontal_pod_autoscaler(namespace).items
        hpa = next(
            (
                h
                for h in hpas
                if h.spec.scale_target_ref.kind == "Deployment"
                and h.spec.scale_target_ref.name == deployment
            ),
            None,
        )
        sanitize = client.ApiClient().sanitize_for_serialization
        return views.target_state(sanitize(found), sanitize(hpa) if hpa else None)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def cmd_status(cluster: Cluster, args: argparse.Namespace) -> int:
    namespace = None if args.all_namespaces else args.namespace or cluster.default_namespace
    events = cluster.events(namespace)
    if args.name:
        events = [e for e in events if e["metadata"]["name"] == args.name]
        if not events:
            print(f"Event {args.name} not found in namespace {namespace}", file=sys.stderr)
            return 1
    now = _now()
    targets: dict[tuple[str, str], views.TargetState | None] = {}
    rows = []
    for event in events:
        ns = event["metadata"]["namespace"]
        deployment = ((event.get("spec") or {}).get("scaling") or {}).get("deployment")
        if deployment and (ns, deployment) not in targets:
            targets[(ns, deployment)] = cluster.target(ns, deployment)
        rows.append(views.status_row(event, targets.get((ns, deployment or "")), now))
    if not rows:
        print(f"No Events in {'any namespace' if namespace is None else namespace}.")
        return 0
    print(views.table(rows, with_namespace=namespace is None))
    lost = [e["metadata"]["name"] for e in events if views.unwatched(e, now)]
    if lost:
        print(
            f"\n{len(lost)} Event(s) have no status {int(views.UNWATCHED_AFTER.total_seconds())} "
            "s after creation: does an evently operator watch their namespace? (the chart's "
            "watches its release namespace; see operator.watchNamespaces / clusterWide)"
        )
    return 0


def _patch_sale(cluster: Cluster, args: argparse.Namespace, build: Any) -> dict[str, Any]:
    namespace = args.namespace or cluster.default_namespace
    event = cluster.event(namespace, args.name)
    body = build(event)
    updated = cluster.patch(namespace, args.name, body)
    sale_now = (updated.get("spec") or {}).get("sale") or {}
    print(
        f"event.evently.io/{args.name} patched: opensAt={sale_now.get('opensAt', '-')} "
        f"closesAt={sale_now.get('closesAt', '-')}"
    )
    return updated


def cmd_open_sale(cluster: Cluster, args: argparse.Namespace) -> int:
    now = _now()
    opens = sale.moment(args.when, now)
    until = sale.moment(args.until, now) if args.until else None
    _patch_sale(cluster, args, lambda event: sale.open_patch(event, opens, until))
    return 0


def cmd_close_sale(cluster: Cluster, args: argparse.Namespace) -> int:
    closes = sale.moment(args.when, _now())
    _patch_sale(cluster, args, lambda event: sale.close_patch(event, closes))
    return 0


def cmd_drain(cluster: Cluster, args: argparse.Namespace) -> int:
    """Close the sale now (no new holds), then wait until no seats are held."""
    namespace = args.namespace or cluster.default_namespace
    updated = _patch_sale(cluster, args, lambda event: sale.close_patch(event, _now()))
    generation = updated["metadata"]["generation"]
    deadline = time.monotonic() + args.timeout
    last: Any = None
    while True:
        event = cluster.event(namespace, args.name)
        held = (event.get("status") or {}).get("held")
        if held != last:
            print(f"held: {held if held is not None else '?'}")
            last = held
        if event["metadata"]["generation"] == generation and sale.drained(event):
            print(f"event.evently.io/{args.name} drained: no new holds, none left")
            return 0
        if time.monotonic() > deadline:
            print(
                f"timed out after {args.timeout:g}s: {held} seat(s) still held (they are "
                "confirmed or expire by their hold TTL)",
                file=sys.stderr,
            )
            return 1
        time.sleep(args.poll)


def cmd_bench(cluster: Cluster | None, args: argparse.Namespace) -> int:
    if not args.yes:
        print(
            "bench runs a real flash sale against the platform at --url (a throwaway event, "
            f"{args.seats} seats, {args.buyers} buyers created with the admin token): "
            "pass --yes to run it",
            file=sys.stderr,
        )
        return 2
    report = asyncio.run(
        bench.run(
            bench.BenchConfig(
                url=args.url.rstrip("/"),
                admin_token=args.admin_token,
                seats=args.seats,
                buyers=args.buyers,
                duration_s=args.duration,
            )
        )
    )
    print(bench.describe(report))
    return 0 if report.oversold == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubectl evently", description="Evently's Event resources from the command line."
    )
    parser.add_argument("--kubeconfig", help="path to the kubeconfig (default: kubectl's)")
    parser.add_argument("--context", help="the kubeconfig context to use")
    parser.add_argument("-n", "--namespace", help="the namespace (default: the context's)")
    commands = parser.add_subparsers(dest="command", required=True)

    status = commands.add_parser("status", help="live sales, queue and scaling per Event")
    status.add_argument("name", nargs="?", help="one Event (default: all)")
    status.add_argument("-A", "--all-namespaces", action="store_true")
    status.set_defaults(run=cmd_status)

    opener = commands.add_parser("open-sale", help="open the sale (patch spec.sale.opensAt)")
    opener.add_argument("name")
    opener.add_argument("when", metavar="NOW|TIME", help="NOW or an RFC 3339 time")
    opener.add_argument("--until", help="close at this time (default: keep, or the event's end)")
    opener.set_defaults(run=cmd_open_sale)

    closer = commands.add_parser("close-sale", help="close the sale (patch spec.sale.closesAt)")
    closer.add_argument("name")
    closer.add_argument("when", nargs="?", default="NOW", metavar="NOW|TIME")
    closer.set_defaults(run=cmd_close_sale)

    drain = commands.add_parser(
        "drain", help="stop new holds now (close the sale) and wait until none are held"
    )
    drain.add_argument("name")
    drain.add_argument("--timeout", type=float, default=600.0, help="seconds to wait")
    drain.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)
    drain.set_defaults(run=cmd_drain)

    runner = commands.add_parser(
        "bench", help="a bounded flash sale against the platform (needs --yes)"
    )
    runner.add_argument("--url", required=True, help="the platform's public API, e.g. https://…")
    runner.add_argument("--admin-token", required=True, help="an admin access token")
    runner.add_argument("--seats", type=int, default=200)
    runner.add_argument("--buyers", type=int, default=20)
    runner.add_argument("--duration", type=float, default=60.0, help="cap in seconds")
    runner.add_argument("--yes", action="store_true", help="really run it")
    runner.set_defaults(run=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "bench":
            return int(args.run(None, args))
        return int(args.run(Cluster(args.kubeconfig, args.context), args))
    except (sale.SaleError, bench.BenchFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ApiException as exc:
        print(f"error: the API server answered {exc.status}: {exc.reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
