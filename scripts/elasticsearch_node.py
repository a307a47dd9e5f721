#!/usr/bin/env python3
"""Run a real, throw-away Elasticsearch node on 127.0.0.1 for tests and CI.

Standard library only; usable as a script and as a module (``tests/es_fixtures.py``
loads it with importlib).

The distribution is Elastic's integration-test zip from Maven Central
(``org.elasticsearch.distribution.integ-test-zip:elasticsearch:<version>:zip``),
fetched with ``mvn`` so it is cached in ``~/.m2``, and unpacked under
``build/elasticsearch/<version>/`` in the repo.  It is a *minimal* node: server
core (indexing, search, aggregations, index templates, aliases, bulk), the
netty HTTP transport and x-pack security.  It has no painless scripting, no
analysis-common (stop/snowball/... filters), no ingest-common, no reindex or
update/delete-by-query, no ILM/data-stream lifecycle, no ML.

CLI::

    scripts/elasticsearch_node.py fetch
    scripts/elasticsearch_node.py run [--port N] [--security] -- CMD ARGS...
    scripts/elasticsearch_node.py serve [--port N] [--security]

``run`` exports ``NEWSWATCH_TEST_ES_URL=http://127.0.0.1:PORT`` (and with
``--security`` also ``NEWSWATCH_TEST_ES_USER`` / ``NEWSWATCH_TEST_ES_PASSWORD``)
into CMD's environment, stops the node afterwards and exits with CMD's code.

Python API::

    with ElasticsearchNode(security=True) as node:
        node.url, node.user, node.password
        node.restart()          # same data dir, same ports

Environment: ``NEWSWATCH_ES_VERSION`` (default below), ``ES_JAVA_HOME`` (else the
newest ``/usr/lib/jvm/temurin-*`` with Java >= 21).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import glob
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Newest 9.x integ-test-zip that Maven Central serves (9.5.5+ and 9.6.0 are not there;
#: note the 9.x zips have no .pom, so probing the pom says "missing" for all of them).
DEFAULT_ES_VERSION = "9.5.4"
ES_VERSION = os.environ.get("NEWSWATCH_ES_VERSION") or DEFAULT_ES_VERSION

ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "build" / "elasticsearch"
#: Used instead of BUILD_DIR when the unprivileged ES user cannot traverse the repo path.
SHARED_DIST_DIR = Path("/var/tmp/newswatch-elasticsearch")
COMPLETE_MARKER = ".newswatch-complete"

ES_SYSTEM_USER = os.environ.get("NEWSWATCH_ES_SYSTEM_USER", "newswatch-es")
DEFAULT_USER = "newswatch"
DEFAULT_PASSWORD = "newswatch-test-password"
DEFAULT_HEAP = "512m"
#: C1-only JIT: the node is healthy ~40% sooner (12 s instead of 19 s on 2 cores);
#: the slower peak speed does not matter for test-sized data.
DEFAULT_JVM_OPTIONS = ("-XX:TieredStopAtLevel=1",)
STARTUP_TIMEOUT = 120.0
HOST = "127.0.0.1"


def log(msg: str) -> None:
    print(f"[elasticsearch_node] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- #
# Java, Maven, distribution
# --------------------------------------------------------------------------- #


def _java_major(java_home: Path) -> int | None:
    try:
        text = (java_home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = re.search(r'^JAVA_VERSION="(\d+)', text, re.M)
    return int(m.group(1)) if m else None


def find_java_home() -> Path:
    """A JDK >= 21 (Elasticsearch 9 needs it): $ES_JAVA_HOME, else /usr/lib/jvm/temurin-*."""
    candidates: list[Path] = []
    if os.environ.get("ES_JAVA_HOME"):
        candidates.append(Path(os.environ["ES_JAVA_HOME"]))
    temurins = [Path(p) for p in glob.glob("/usr/lib/jvm/temurin-*")]
    candidates += sorted(temurins, key=lambda p: _java_major(p) or 0, reverse=True)
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    candidates += sorted(
        (Path(p) for p in glob.glob("/usr/lib/jvm/*")),
        key=lambda p: _java_major(p) or 0,
        reverse=True,
    )
    for home in candidates:
        major = _java_major(home)
        if major and major >= 21 and (home / "bin" / "java").exists():
            return home
    raise RuntimeError(
        "no JDK >= 21 found: set ES_JAVA_HOME (e.g. /usr/lib/jvm/temurin-25-jdk-amd64)"
    )


def _mvn_copy(artifact: str, dest: Path) -> Path:
    """Resolve ``artifact`` through ~/.m2 (downloading it once) and copy it into ``dest``."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise RuntimeError("mvn not found on PATH (apt-get install maven)")
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [
        mvn,
        "-B",
        "-q",
        f"{DEPENDENCY_PLUGIN}:copy",
        f"-Dartifact={artifact}",
        f"-DoutputDirectory={dest}",
    ]
    proc = subprocess.run(cmd, cwd=dest, capture_output=True, text=True)
    files = sorted(dest.glob("*.zip"))
    if proc.returncode != 0 or not files:
        out = (proc.stdout + proc.stderr).strip().splitlines()
        raise RuntimeError(f"{' '.join(cmd)} failed:\n" + "\n".join(out[-25:]))
    return files[0]


def _unzip(zip_path: Path, dest: Path) -> Path:
    """Unzip keeping the unix modes; returns the single top-level directory."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(target, mode)
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise RuntimeError(f"unexpected layout in {zip_path}: {tops}")
    return tops[0]


def _make_world_readable(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                mode = os.stat(p).st_mode & 0o777
                os.chmod(p, mode | 0o444 | (0o111 if mode & 0o100 else 0))


COMPAT_MODULE = "newswatch-compat"
#: The integ-test-zip lacks the ``rest-root`` and ``analysis-common`` modules, so
#: ``GET /`` (client ``info()``) and ``HEAD /`` (client ``ping()``) answer 405, and
#: the ``.security`` index (API keys, native users/roles) cannot be created: its
#: ``email`` analyzer needs ``uax_url_email``, ``pattern_capture`` and ``unique``.
#: This tiny module (our own code, compiled with the JDK's javac at fetch time)
#: provides exactly those, on top of Lucene classes that the distribution ships.
#: The module's Java source and its plugin descriptor (``{version}`` and ``{name}`` are
#: filled in), kept next to this script.
COMPAT_DIR = Path(__file__).resolve().parent / "elasticsearch-compat"
COMPAT_MODULE_SOURCE_FILE = COMPAT_DIR / "CompatPlugin.java"
COMPAT_DESCRIPTOR_FILE = COMPAT_DIR / "plugin-descriptor.properties"


def _install_compat_module(home: Path, version: str, work: Path) -> None:
    modules = home / "modules"
    if (modules / "rest-root").is_dir() and (modules / "analysis-common").is_dir():
        return
    javac = find_java_home() / "bin" / "javac"
    if not javac.exists():
        log(f"no javac in {javac.parent}: no GET /, HEAD / or API keys")
        return
    src = work / "src" / "newswatch" / "es" / "CompatPlugin.java"
    src.parent.mkdir(parents=True)
    shutil.copyfile(COMPAT_MODULE_SOURCE_FILE, src)
    classes = work / "classes"
    proc = subprocess.run(
        [
            str(javac),
            "--release",
            "21",
            "-nowarn",
            "-proc:none",
            "-cp",
            str(home / "lib" / "*"),
            "-d",
            str(classes),
            str(src),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"compiling {COMPAT_MODULE} failed:\n{proc.stdout}{proc.stderr}")
    mod = home / "modules" / COMPAT_MODULE
    mod.mkdir()
    with zipfile.ZipFile(mod / f"{COMPAT_MODULE}.jar", "w", zipfile.ZIP_DEFLATED) as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        for cls in sorted(classes.rglob("*.class")):
            jar.write(cls, cls.relative_to(classes).as_posix())
    descriptor = COMPAT_DESCRIPTOR_FILE.read_text(encoding="utf-8")
    (mod / "plugin-descriptor.properties").write_text(
        descriptor.format(version=version, name=COMPAT_MODULE)
    )


def fetch(version: str | None = None) -> Path:
    """Download (Maven) and unpack the distribution once; returns its ES_HOME."""
    version = version or ES_VERSION
    root = BUILD_DIR / version
    home = root / f"elasticsearch-{version}"
    if (home / COMPLETE_MARKER).exists():
        return home
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test processes: one fetch at a time
        if (home / COMPLETE_MARKER).exists():
            return home
        _fetch_locked(version, home)
    return home


def _fetch_locked(version: str, home: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=home.parent))
    try:
        zip_path = _mvn_copy(ARTIFACT.format(version=version), staging / "download")
        unpacked = _unzip(zip_path, staging / "unpacked")
        _install_compat_module(unpacked, version, staging / "compat-module")
        _make_world_readable(unpacked)
        (unpacked / COMPLETE_MARKER).write_text(f"{ARTIFACT.format(version=version)}\n")
        if home.exists():
            shutil.rmtree(home)
        unpacked.rename(home)
        log(f"Elasticsearch {version} unpacked in {home}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _traversable_by_others(path: Path) -> bool:
    for p in (path, *path.parents):
        try:
            if not os.stat(p).st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _home_for_es_user(home: Path, other_user: bool) -> Path:
    """If the ES user cannot reach ``home`` (e.g. repo under /root), use a shared copy."""
    if not other_user or _traversable_by_others(home):
        return home
    shared = SHARED_DIST_DIR / home.name
    if not (shared / COMPLETE_MARKER).exists():
        log(f"{home} is not reachable by {ES_SYSTEM_USER}: copying it to {shared}")
        shutil.rmtree(shared, ignore_errors=True)
        SHARED_DIST_DIR.mkdir(parents=True, exist_ok=True)
        os.chmod(SHARED_DIST_DIR, 0o755)
        shutil.copytree(home, shared, symlinks=True)
        _make_world_readable(shared)
    return shared


def ensure_system_user(name: str = ES_SYSTEM_USER) -> pwd.struct_passwd:
    """The unprivileged user the node runs as when we are root (ES refuses root)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
    )
    return pwd.getpwnam(name)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http_json(
    base_url: str,
    method: str,
    path: str,
    body: object | None = None,
    *,
    auth: tuple[str, str] | None = None,
    timeout: float = 30.0,
) -> object:
    """Minimal JSON-over-HTTP helper (stdlib); raises urllib.error.HTTPError on >= 400."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base_url + path, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM the node's launcher if the Python process that started it dies."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # pragma: no cover - best effort
        pass


# --------------------------------------------------------------------------- #
# Node
# --------------------------------------------------------------------------- #


class ElasticsearchNode:
    """One Elasticsearch node with its own temp dir (config, data, logs) on 127.0.0.1.

    ``stop()`` keeps the temp dir and the ports, so ``start()``/``restart()`` bring
    the same node back on the same data; ``close()`` (or leaving ``with``) also
    deletes the temp dir.  For a multi-node cluster give every node the same
    ``cluster_name``, a ``node_name``, the others' ``transport_address`` as
    ``seed_hosts`` and the master-eligible names as ``initial_master_nodes``; start
    them all with ``start(wait=False)``, then ``wait_ready()`` on each.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        transport_port: int | None = None,
        security: bool = False,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        heap: str = DEFAULT_HEAP,
        jvm_options: Sequence[str] = DEFAULT_JVM_OPTIONS,
        cluster_name: str = "newswatch-test",
        node_name: str | None = None,
        seed_hosts: Sequence[str] | None = None,
        initial_master_nodes: Sequence[str] | None = None,
        settings: Mapping[str, object] | None = None,
        version: str | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        wait_for_status: str | None = "yellow",
    ) -> None:
        self.version = version or ES_VERSION
        self.port = port
        self.transport_port = transport_port
        self.security = security
        self.user = user
        self.password = password
        self.heap = heap
        self.jvm_options = list(jvm_options)
        self.cluster_name = cluster_name
        self.node_name = node_name
        self.seed_hosts = list(seed_hosts or [])
        self.initial_master_nodes = list(initial_master_nodes or [])
        self.extra_settings = dict(settings or {})
        self.base_dir = base_dir
        self.startup_timeout = startup_timeout
        self.wait_for_status = wait_for_status
        self.workdir: Path | None = None
        self.started_in: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._users_created = False
        self._log_offset = 0
        self._launched_at = 0.0

    # -- public API ----------------------------------------------------------- #

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the node has no port yet: call start()")
        return f"http://{HOST}:{self.port}"

    @property
    def transport_address(self) -> str:
        if self.transport_port is None:
            self.transport_port = free_port()
        return f"{HOST}:{self.transport_port}"

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.user, self.password) if self.security else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def data_dir(self) -> Path:
        return self._dir("data")

    @property
    def logs_dir(self) -> Path:
        return self._dir("logs")

    @property
    def config_dir(self) -> Path:
        return self._dir("config")

    def start(self, wait: bool = True) -> ElasticsearchNode:
        """Start (or start again) and wait until the cluster is ``wait_for_status``.

        ``wait=False`` returns right after launching (e.g. to start the nodes of a
        cluster together); call ``wait_ready()`` afterwards.
        """
        if self.running:
            return self
        fresh = self.workdir is None
        auto_ports = self.port is None, self.transport_port is None
        for attempt in range(3):
            try:
                self._launch()
                if wait:
                    self.wait_ready()
                return self
            except RuntimeError as e:
                # free_port() is racy: retry on another port if ours was taken meanwhile
                if "BindException" not in str(e) or attempt == 2 or not any(auto_ports):
                    self._cleanup_failed_start(fresh)
                    raise
                log(f"port clash on {self.url}; retrying on other ports")
                if auto_ports[0]:
                    self.port = None
                if auto_ports[1]:
                    self.transport_port = None
                self.node_name = None if fresh else self.node_name
            except BaseException:
                self._cleanup_failed_start(fresh)
                raise
        raise AssertionError("unreachable")

    def _cleanup_failed_start(self, fresh: bool) -> None:
        self.stop()
        if fresh and self.workdir is not None:  # nothing worth keeping: no leaked temp dirs
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def wait_ready(self) -> ElasticsearchNode:
        """Wait for ``wait_for_status`` (or, if None, for HTTP) within ``startup_timeout``."""
        self._wait_ready(self._launched_at)
        self.started_in = time.monotonic() - self._launched_at
        return self

    def _launch(self) -> None:
        self._launched_at = time.monotonic()
        as_root = os.geteuid() == 0
        pw = ensure_system_user() if as_root else pwd.getpwuid(os.geteuid())
        home = _home_for_es_user(fetch(self.version), as_root)
        java_home = find_java_home()

        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="newswatch-es-", dir=self.base_dir))
            os.chmod(self.workdir, 0o755)
            for sub in ("data", "logs", "tmp"):
                (self.workdir / sub).mkdir()
            shutil.copytree(home / "config", self.config_dir)
            self._users_created = False
        if self.port is None:
            self.port = free_port()
        if self.transport_port is None:
            self.transport_port = free_port()
        if self.node_name is None:
            self.node_name = f"newswatch-{self.port}"
        if as_root:
            _chown_tree(self.workdir, pw.pw_uid, pw.pw_gid)

        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(self._dir("tmp")),
            "LANG": "C.UTF-8",
            "ES_JAVA_HOME": str(java_home),
            "ES_PATH_CONF": str(self.config_dir),
            "ES_TMPDIR": str(self._dir("tmp")),
            "ES_JAVA_OPTS": " ".join([f"-Xms{self.heap}", f"-Xmx{self.heap}", *self.jvm_options]),
            # the launcher / CLI tool JVMs (their temp files too, e.g. final-flags*)
            "CLI_JAVA_OPTS": f"-XX:TieredStopAtLevel=1 -Djava.io.tmpdir={self._dir('tmp')}",
        }
        user_kw: dict[str, object] = (
            {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []} if as_root else {}
        )
        if self.security and not self._users_created:
            self._create_file_realm_user(home, env, user_kw)

        settings = self._settings(home)
        cmd = [str(home / "bin" / "elasticsearch")]
        for key, value in settings.items():
            cmd.append(f"-E{key}={value}")
        console_log = self.logs_dir / "console.log"
        self._log_offset = console_log.stat().st_size if console_log.exists() else 0
        with open(console_log, "ab") as console:
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.logs_dir,  # relative gc.log / hs_err / heap dumps land in logs/
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, stopped as a whole
                preexec_fn=_die_with_parent,
                **user_kw,  # type: ignore[arg-type]
            )

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM the node's process group, wait, then SIGKILL; keeps the data dir."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"node {self.url} ignored SIGTERM for {timeout:.0f}s: SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        # the server JVM is a child of the launcher JVM: make sure it is gone too
        deadline = time.monotonic() + min(timeout, 15.0)
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def restart(self) -> ElasticsearchNode:
        """Stop and start again on the same data dir and the same ports."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the node and delete its temp dir."""
        self.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> ElasticsearchNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self, method: str, path: str, body: object | None = None, timeout: float = 30.0
    ) -> object:
        """JSON request against this node with its credentials (stdlib only)."""
        return http_json(self.url, method, path, body, auth=self.auth, timeout=timeout)

    def tail_log(self, lines: int = 60, *, current_start: bool = False) -> str:
        """Last lines of the node's console output (of the latest start if asked)."""
        if self.workdir is None:
            return ""
        path = self.logs_dir / "console.log"
        if not path.exists():
            return ""
        with open(path, "rb") as f:
            if current_start:
                f.seek(self._log_offset)
            text = f.read().decode("utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # -- internals -------------------------------------------------------------- #

    def _dir(self, name: str) -> Path:
        if self.workdir is None:
            raise RuntimeError("the node has no directory yet: call start()")
        return self.workdir / name

    def _settings(self, home: Path) -> dict[str, object]:
        s: dict[str, object] = {
            "cluster.name": self.cluster_name,
            "node.name": self.node_name,
            "path.data": self.data_dir,
            "path.logs": self.logs_dir,
            "network.host": HOST,
            "http.port": self.port,
            "transport.port": self.transport_port,
            "xpack.security.enabled": str(self.security).lower(),
            # disks may be fairly full on dev machines and CI
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            "cluster.routing.allocation.disk.watermark.low": "99%",
            "cluster.routing.allocation.disk.watermark.high": "99%",
            "cluster.routing.allocation.disk.watermark.flood_stage": "99%",
            # test cleanup deletes "newswatch-test-*" by wildcard
            "action.destructive_requires_name": "false",
        }
        if self.seed_hosts or self.initial_master_nodes:
            if self.seed_hosts:
                s["discovery.seed_hosts"] = ",".join(self.seed_hosts)
            if self.initial_master_nodes:
                s["cluster.initial_master_nodes"] = ",".join(self.initial_master_nodes)
        else:
            s["discovery.type"] = "single-node"
        if self.security:
            s["xpack.security.http.ssl.enabled"] = "false"
            s["xpack.security.transport.ssl.enabled"] = "false"
            s["xpack.security.authc.api_key.enabled"] = "true"
        if (home / "modules" / "x-pack-ml").is_dir():
            s["xpack.ml.enabled"] = "false"  # only a valid setting when ML is installed
        s.update(self.extra_settings)
        return s

    def _create_file_realm_user(
        self, home: Path, env: Mapping[str, str], user_kw: Mapping[str, object]
    ) -> None:
        cmd = [
            str(home / "bin" / "elasticsearch-users"),
            "useradd",
            self.user,
            "-p",
            self.password,
            "-r",
            "superuser",
        ]
        proc = subprocess.run(
            cmd,
            env={**env, "ES_JAVA_OPTS": ""},
            cwd=self.logs_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            **user_kw,  # type: ignore[arg-type]
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"elasticsearch-users useradd failed ({proc.returncode}):\n"
                + (proc.stdout + proc.stderr)[-3000:]
            )
        self._users_created = True

    def _wait_ready(self, t0: float) -> None:
        deadline = t0 + self.startup_timeout
        if self.wait_for_status:
            path = f"/_cluster/health?wait_for_status={self.wait_for_status}&timeout=5s"
        else:
            path = "/"  # answers without an elected master
        last_error: object = None
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                raise RuntimeError(
                    f"Elasticsearch exited during startup (exit code {code}); last lines of "
                    f"{self.logs_dir}/console.log:\n{self.tail_log(current_start=True)}"
                )
            try:
                http_json(self.url, "GET", path, auth=self.auth, timeout=10)
                return
            except urllib.error.HTTPError as e:
                if self.wait_for_status is None:  # HTTP is up; cluster may lack a master yet
                    return
                last_error = e
                time.sleep(0.5)
            except (OSError, ValueError) as e:  # connection refused, reset, bad JSON...
                last_error = e
                time.sleep(0.5)
        raise TimeoutError(
            f"Elasticsearch at {self.url} not healthy after {self.startup_timeout:.0f}s "
            f"({last_error}); last lines of {self.logs_dir}/console.log:\n"
            + self.tail_log(current_start=True)
        )


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chown(dirpath, uid, gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


class _Terminated(Exception):
    pass


def _on_signal(signum: int, _frame: object) -> None:
    raise _Terminated(signum)


@contextlib.contextmanager
def _stop_signals_raise():
    """SIGINT/SIGTERM/SIGHUP raise _Terminated (SIGINT even if the shell ignored it: `&`)."""
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, _on_signal) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _node_from_args(args: argparse.Namespace) -> ElasticsearchNode:
    return ElasticsearchNode(
        port=args.port,
        security=args.security,
        user=args.user,
        password=args.password,
        heap=args.heap,
        version=args.es_version,
    )


def _cmd_fetch(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    home = fetch(args.es_version)
    print(f"{home} ({time.monotonic() - t0:.1f}s)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    cmd = list(args.cmd)
    if cmd[:1] == ["--"]:
        cmd = cmd[1:]
    if not cmd:
        print("run: give the command after --", file=sys.stderr)
        return 2
    node = _node_from_args(args)
    child: subprocess.Popen[bytes] | None = None
    with _stop_signals_raise():
        try:
            node.start()
            log(f"Elasticsearch {node.version} at {node.url} (up in {node.started_in:.1f}s)")
            env = dict(os.environ, NEWSWATCH_TEST_ES_URL=node.url)
            if node.security:
                env["NEWSWATCH_TEST_ES_USER"] = node.user
                env["NEWSWATCH_TEST_ES_PASSWORD"] = node.password
            child = subprocess.Popen(cmd, env=env)
            return child.wait()
        except (KeyboardInterrupt, _Terminated):
            if child is not None and child.poll() is None:
                child.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(30)
            return 130
        finally:
            node.close()


def _cmd_serve(args: argparse.Namespace) -> int:
    node = _node_from_args(args)
    with _stop_signals_raise():
        try:
            node.start()
            print(f"Elasticsearch {node.version} at {node.url} (up in {node.started_in:.1f}s)")
            if node.security:
                print(f"  superuser {node.user!r}, password {node.password!r}")
            print(f"  config/data/logs in {node.workdir}; Ctrl-C stops it", flush=True)
            while node.running:
                time.sleep(1)
            print("Elasticsearch exited:\n" + node.tail_log(), file=sys.stderr)
            return 1
        except (KeyboardInterrupt, _Terminated):
            return 0
        finally:
            node.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="elasticsearch_node.py",
        description="Fetch and run a throw-away Elasticsearch node on 127.0.0.1.",
    )
    parser.add_argument(
        "--es-version",
        default=ES_VERSION,
        help=f"Elasticsearch version (default {ES_VERSION}; env NEWSWATCH_ES_VERSION)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download (via Maven) and unpack only")
    for name, help_ in (
        ("run", "start a node, run CMD with NEWSWATCH_TEST_ES_URL set, stop the node"),
        ("serve", "start a node and keep it in the foreground until Ctrl-C"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--port", type=int, default=None, help="HTTP port (default: a free one)")
        p.add_argument("--security", action="store_true", help="security on, basic auth user")
        p.add_argument("--user", default=DEFAULT_USER, help="superuser name with --security")
        p.add_argument("--password", default=DEFAULT_PASSWORD, help="its password")
        p.add_argument("--heap", default=DEFAULT_HEAP, help="JVM heap (default 512m)")
        if name == "run":
            p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    args = parser.parse_args(argv)
    handler = {"fetch": _cmd_fetch, "run": _cmd_run, "serve": _cmd_serve}[args.command]
    try:
        return handler(args)
    except (RuntimeError, TimeoutError, OSError) as e:
        print(f"elasticsearch_node: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
