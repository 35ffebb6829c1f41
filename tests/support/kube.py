"""A real Kubernetes API for tests: etcd + kube-apiserver (+ controller-manager).

Use the session fixture ``kube_cluster`` (import it into your ``conftest.py``)::

    from tests.support.kube import kube_cluster  # noqa: F401

    def test_chart_applies(kube_cluster):
        kube_cluster.kubectl("apply", "--dry-run=server", "-f", "-", input=manifests)

or, outside pytest, ``with start_kube_cluster(workdir) as cluster: ...``.

The yielded ``KubeCluster`` has ``server`` (https URL), ``token`` (an admin bearer token
in ``system:masters``), ``ca_file``, ``kubeconfig`` (a file with that server and token
as the current context), ``env()`` (``{"KUBECONFIG": ...}`` for subprocesses) and
``kubectl(*args, input=None, check=True)`` / ``kubectl_json(*args)``, plus
``create_namespace(prefix)`` and ``service_account_kubeconfig(namespace, name)``.

Everything listens on free 127.0.0.1 ports under a temporary directory and is torn
down at the end. The binaries come from ``hack/install-tools.sh`` (etcd from Debian,
kube-apiserver and kube-controller-manager v1.20 built once into
``~/.cache/evently/kube/bin``); if any is missing the fixture FAILS, saying so.
There is no scheduler or kubelet: objects are real, pods never run.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

READY_TIMEOUT_S = 60.0
INSTALL_HINT = "run hack/install-tools.sh (or `make tools`) to fetch and build them"


class KubeToolsMissing(RuntimeError):
    """etcd, kube-apiserver, kube-controller-manager or kubectl is not installed."""


class KubeStartFailed(RuntimeError):
    """A component exited or the API did not become ready in time."""


def tools_dir() -> Path:
    return Path(os.environ.get("EVENTLY_TOOLS", Path.home() / ".cache" / "evently"))


def find_binaries() -> dict[str, str]:
    """Paths of etcd, kube-apiserver, kube-controller-manager and kubectl, or raise."""
    kube_bin = Path(os.environ.get("EVENTLY_KUBE_BIN", tools_dir() / "kube" / "bin"))
    extra = os.pathsep.join([str(kube_bin), str(tools_dir() / "bin")])
    search = os.environ.get("PATH", "") + os.pathsep + extra
    found: dict[str, str] = {}
    missing: list[str] = []
    for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl"):
        # The apiserver we built is preferred over any other on PATH (it must be v1.20+).
        own = kube_bin / name
        path = str(own) if own.is_file() else shutil.which(name, path=search)
        if path is None:
            missing.append(name)
        else:
            found[name] = path
    if missing:
        raise KubeToolsMissing(
            f"missing {', '.join(missing)} (looked in PATH and {extra}): {INSTALL_HINT}"
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class KubeCluster:
    """A running API server and how to talk to it."""

    server: str
    token: str
    ca_file: Path
    kubeconfig: Path
    workdir: Path
    kubectl_path: str
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list, repr=False)

    def pids(self) -> dict[str, int]:
        """Each of its processes' pid, by name (etcd, kube-apiserver, ...)."""
        return {name: process.pid for name, process in self._processes}

    def env(self) -> dict[str, str]:
        """Environment additions for a subprocess that should use this cluster."""
        return {"KUBECONFIG": str(self.kubeconfig)}

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run ``kubectl *args`` on this cluster; with ``check``, a failure raises with stderr."""
        result = subprocess.run(
            [self.kubectl_path, f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def kubectl_json(self, *args: str) -> Any:
        """``kubectl <args> -o json`` parsed."""
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def create_namespace(self, prefix: str = "test") -> str:
        """A fresh namespace named ``<prefix>-<random>``."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.kubectl("create", "namespace", name)
        return name

    def service_account_kubeconfig(self, namespace: str, name: str) -> Path:
        """A kubeconfig that acts as ServiceAccount ``namespace/name`` (created if missing).

        For testing RBAC: bind roles to the account, then run a client with this file.
        """
        self.kubectl("-n", namespace, "create", "serviceaccount", name, check=False)
        token = self.kubectl("-n", namespace, "create", "token", name, "--duration=2h").stdout
        path = self.workdir / f"kubeconfig-{namespace}-{name}"
        _write_kubeconfig(path, self.server, self.ca_file, token.strip())
        return path

    def log_tail(self, component: str, lines: int = 30) -> str:
        path = self.workdir / f"{component}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- certificates and credentials ---------------------------------------------------


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


def _certificate_authority(
    common_name: str, days: int
) -> tuple[rsa.RSAPrivateKey, x509.Name, x509.Certificate]:
    """A throwaway self-signed CA: its key, its name and its certificate."""
    now = datetime.datetime.now(datetime.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, name, cert


def _serving_certificate(
    ca_key: rsa.RSAPrivateKey,
    ca_name: x509.Name,
    common_name: str,
    names: list[x509.GeneralName],
    days: int,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A server certificate for ``names``, signed by the CA."""
    now = datetime.datetime.now(datetime.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _write_pki(pki: Path) -> None:
    """A self-made CA, a serving certificate for 127.0.0.1, and service-account keys."""
    pki.mkdir(parents=True)
    ca_key, ca_name, ca_cert = _certificate_authority("evently-test-ca", days=2)
    server_key, server_cert = _serving_certificate(
        ca_key,
        ca_name,
        "kube-apiserver",
        [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes.default.svc"),
        ],
        days=2,
    )
    _write_key(pki / "ca.key", ca_key)
    (pki / "ca.crt").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(pki / "apiserver.key", server_key)
    (pki / "apiserver.crt").write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(pki / "sa.key", sa_key)
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def write_serving_certificate(directory: Path, ip: str = "127.0.0.1") -> tuple[bytes, Path, Path]:
    """A throwaway CA and a serving certificate for ``ip``, e.g. for a webhook the API
    server calls by URL. Returns (the CA's PEM for a caBundle, cert path, key path)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_name, ca_cert = _certificate_authority("evently-webhook-test-ca", days=1)
    key, cert = _serving_certificate(
        ca_key, ca_name, ip, [x509.IPAddress(ipaddress.ip_address(ip))], days=1
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key_path, key)
    return ca_cert.public_bytes(serialization.Encoding.PEM), cert_path, key_path


def _write_kubeconfig(path: Path, server: str, ca_file: Path, token: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "evently-test",
                "cluster": {"server": server, "certificate-authority": str(ca_file)},
            }
        ],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [
            {"name": "evently-test", "context": {"cluster": "evently-test", "user": "admin"}}
        ],
        "current-context": "evently-test",
    }
    path.write_text(yaml.safe_dump(config))


# --- processes -----------------------------------------------------------------------


def _spawn(workdir: Path, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("wb")
    try:
        return subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir
        )
    finally:
        log.close()  # the child holds its own descriptor


def _stop(processes: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """Terminate in reverse start order; kill whatever does not exit within 10 s."""
    for _, process in reversed(processes):
        if process.poll() is None:
            process.terminate()
    for _, process in reversed(processes):
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_ready(cluster: KubeCluster, deadline: float) -> None:
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    request = urllib.request.Request(
        cluster.server + "/readyz", headers={"Authorization": f"Bearer {cluster.token}"}
    )
    last_error = "no answer"
    while time.monotonic() < deadline:
        for name, process in cluster._processes:
            if process.poll() is not None:
                raise KubeStartFailed(
                    f"{name} exited with {process.returncode}:\n{cluster.log_tail(name)}"
                )
        try:
            with urllib.request.urlopen(request, context=context, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception as exc:  # not ready yet: connection refused, 500 while starting
            last_error = str(exc)
        time.sleep(0.25)
    raise KubeStartFailed(
        f"kube-apiserver not ready after {READY_TIMEOUT_S:.0f}s ({last_error}):\n"
        + cluster.log_tail("kube-apiserver")
    )


def _wait_default_namespace(cluster: KubeCluster, deadline: float) -> None:
    # The apiserver creates "default" shortly after /readyz; objects need it.
    while time.monotonic() < deadline:
        if cluster.kubectl("get", "namespace", "default", check=False).returncode == 0:
            return
        time.sleep(0.25)
    raise KubeStartFailed("namespace 'default' never appeared")


@contextlib.contextmanager
def start_kube_cluster(workdir: Path, *, controller_manager: bool = True) -> Iterator[KubeCluster]:
    """Start etcd + kube-apiserver (+ controller-manager) in ``workdir``; stop them after."""
    binaries = find_binaries()
    workdir.mkdir(parents=True, exist_ok=True)
    pki = workdir / "pki"
    _write_pki(pki)
    token = uuid.uuid4().hex
    (pki / "tokens.csv").write_text(f'{token},admin,admin-uid,"system:masters"\n')
    etcd_port, etcd_peer_port, api_port = free_port(), free_port(), free_port()
    server = f"https://127.0.0.1:{api_port}"
    cluster = KubeCluster(
        server=server,
        token=token,
        ca_file=pki / "ca.crt",
        kubeconfig=workdir / "kubeconfig",
        workdir=workdir,
        kubectl_path=binaries["kubectl"],
    )
    _write_kubeconfig(cluster.kubeconfig, server, cluster.ca_file, token)
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    peer_url = f"http://127.0.0.1:{etcd_peer_port}"
    try:
        cluster._processes.append(
            (
                "etcd",
                _spawn(
                    workdir,
                    "etcd",
                    [
                        binaries["etcd"],
                        "--name=evently-test",
                        f"--data-dir={workdir / 'etcd'}",
                        f"--listen-client-urls={etcd_url}",
                        f"--advertise-client-urls={etcd_url}",
                        f"--listen-peer-urls={peer_url}",
                        f"--initial-advertise-peer-urls={peer_url}",
                        f"--initial-cluster=evently-test={peer_url}",
                        "--unsafe-no-fsync",
                        "--log-level=warn",
                    ],
                ),
            )
        )
        cluster._processes.append(
            (
                "kube-apiserver",
                _spawn(
                    workdir,
                    "kube-apiserver",
                    [
                        binaries["kube-apiserver"],
                        f"--etcd-servers={etcd_url}",
                        "--bind-address=127.0.0.1",
                        "--advertise-address=127.0.0.1",
                        f"--secure-port={api_port}",
                        "--insecure-port=0",
                        f"--cert-dir={pki}",
                        f"--tls-cert-file={pki / 'apiserver.crt'}",
                        f"--tls-private-key-file={pki / 'apiserver.key'}",
                        f"--client-ca-file={pki / 'ca.crt'}",
                        f"--token-auth-file={pki / 'tokens.csv'}",
                        "--authorization-mode=RBAC",
                        "--service-account-issuer=https://kubernetes.default.svc",
                        f"--service-account-key-file={pki / 'sa.pub'}",
                        f"--service-account-signing-key-file={pki / 'sa.key'}",
                        "--api-audiences=https://kubernetes.default.svc",
                        "--service-cluster-ip-range=10.0.0.0/24",
                        "--disable-admission-plugins=ServiceAccount",
                        "--profiling=false",
                        "--v=1",
                    ],
                ),
            )
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        _wait_ready(cluster, deadline)
        _wait_default_namespace(cluster, deadline)
        if controller_manager:
            cluster._processes.append(
                (
                    "kube-controller-manager",
                    _spawn(
                        workdir,
                        "kube-controller-manager",
                        [
                            binaries["kube-controller-manager"],
                            f"--kubeconfig={cluster.kubeconfig}",
                            "--controllers=garbagecollector,namespace",
                            "--leader-elect=false",
                            "--port=0",
                            "--secure-port=0",
                            "--v=1",
                        ],
                    ),
                )
            )
        yield cluster
    finally:
        _stop(cluster._processes)


# --- the pytest fixture ----------------------------------------------------------------

# Several conftest files may import the fixture; they share one cluster per process.
_shared_lock = threading.Lock()
_shared: dict[str, Any] = {"cluster": None, "users": 0, "stack": None}


@contextlib.contextmanager
def shared_kube_cluster(workdir_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """One cluster per test process, however many fixtures ask for it."""
    with _shared_lock:
        if _shared["cluster"] is None:
            stack = contextlib.ExitStack()
            workdir = workdir_factory.mktemp("kube")
            _shared["cluster"] = stack.enter_context(start_kube_cluster(workdir))
            _shared["stack"] = stack
        _shared["users"] += 1
    try:
        yield _shared["cluster"]
    finally:
        with _shared_lock:
            _shared["users"] -= 1
            if _shared["users"] == 0:
                stack, _shared["stack"], _shared["cluster"] = _shared["stack"], None, None
                stack.close()


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """A real kube-apiserver for the session. Fails (never skips) if the tools are missing."""
    try:
        find_binaries()
    except KubeToolsMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with shared_kube_cluster(tmp_path_factory) as cluster:
        yield cluster
