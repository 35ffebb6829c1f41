"""Cluster DNS for the Evently test cluster: keep dnsmasq's hosts file equal to the Services.

No CoreDNS or kube-dns package exists, so hack/cluster.sh runs Debian's dnsmasq on the bridge
address and this loop writes one line per name every second:
  <clusterIP>  <service>.<namespace>.svc.<domain>            (ClusterIP Services)
  <podIP>      <service>.<namespace>.svc.<domain>            (headless Services, each endpoint)
  <podIP>      <hostname>.<service>.<namespace>.svc.<domain> (StatefulSet pods)
and sends dnsmasq SIGHUP (it re-reads the file) when they change. Standard library only: it
runs with the system python3.
Usage: dns-feeder.py SERVER TOKEN_FILE CA_FILE HOSTS_FILE DNSMASQ_PIDFILE
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import sys
import time
import urllib.request

DOMAIN = "cluster.local"


def get(server: str, token: str, context: ssl.SSLContext, path: str) -> list[dict]:
    request = urllib.request.Request(server + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, context=context, timeout=5) as response:
        return json.load(response)["items"]


def host_lines(services: list[dict], endpoints: list[dict]) -> list[str]:
    lines = []
    by_name = {(e["metadata"]["namespace"], e["metadata"]["name"]): e for e in endpoints}
    for service in services:
        namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
        fqdn = f"{name}.{namespace}.svc.{DOMAIN}"
        cluster_ip = service["spec"].get("clusterIP")
        if cluster_ip and cluster_ip != "None":
            lines.append(f"{cluster_ip} {fqdn}")
            continue
        for subset in by_name.get((namespace, name), {}).get("subsets") or []:
            for address in subset.get("addresses") or []:
                lines.append(f"{address['ip']} {fqdn}")
                if address.get("hostname"):
                    lines.append(f"{address['ip']} {address['hostname']}.{fqdn}")
    return sorted(set(lines))


def main(server: str, token_file: str, ca_file: str, hosts_file: str, pidfile: str) -> None:
    with open(token_file) as handle:
        token = handle.read().strip()
    context = ssl.create_default_context(cafile=ca_file)
    written = None
    while True:
        try:
            lines = host_lines(
                get(server, token, context, "/api/v1/services"),
                get(server, token, context, "/api/v1/endpoints"),
            )
        except OSError as error:  # the API restarting or not up yet: keep the last file
            print(f"dns-feeder: {error}", file=sys.stderr, flush=True)
            time.sleep(1)
            continue
        if lines != written:
            with open(hosts_file + ".tmp", "w") as handle:
                handle.write("\n".join(lines) + "\n")
            os.replace(hosts_file + ".tmp", hosts_file)
            written = lines
            try:
                with open(pidfile) as handle:
                    os.kill(int(handle.read().strip()), signal.SIGHUP)
            except (OSError, ValueError) as error:
                print(f"dns-feeder: no dnsmasq to reload: {error}", file=sys.stderr, flush=True)
        time.sleep(1)


if __name__ == "__main__":
    main(*sys.argv[1:6])
