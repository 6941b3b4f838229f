"""The lab `builder`: a network-namespace host with a private overlay root (this machine's own
root, read-only underneath, writes on a tmpfs) running sshd and its own dockerd, with the lab
build image loaded.

Docker's data lives in the lab cache, bound into the host, so the image is built once and
survives `lab down`. Measured recipe: shared/reference/lab-hosts.md section 1 (nsenter --net,
not `ip netns exec`, which remounts /sys without the cgroups dockerd needs).
"""

from __future__ import annotations

import io
import shutil
import tarfile
from importlib import resources
from pathlib import Path

from workbench.errors import LabError
from workbench.lab import config, hostkeys, procs, rootfs, testguest
from workbench.lab.sysrun import run

HOST = config.BUILDER
ROOT = HOST.state / "root"
PIDFILE = HOST.state / "unshare.pid"
LOG = HOST.state / "builder.log"
LOGDIR = HOST.state / "log"
DOCKER_DATA = config.CACHE_DIR / "builder-docker"
IMAGE = "workbench-lab/opam-double:latest"
BASE_REPO = "workbench-lab/debian-base"

SSHD_CONFIG = """\
ListenAddress {address}
HostKey {state}/ssh_host_ed25519_key
PidFile /run/sshd-lab.pid
AuthorizedKeysFile {state}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
Subsystem sftp internal-sftp
"""

# PID 1 of the builder's PID namespace. It builds the private root, then becomes sshd after
# starting dockerd; when it dies (lab down kills it) the kernel ends every process in the host.
INIT = """\
set -eu
R={root}
mount -t tmpfs -o mode=0755 lab-builder {state}/mnt
mkdir -p {state}/mnt/upper {state}/mnt/work
mount -t overlay overlay -o lowerdir=/,upperdir={state}/mnt/upper,workdir={state}/mnt/work $R
mount --rbind /dev $R/dev
mount --rbind /sys $R/sys
mount -t proc proc $R/proc
mount -t tmpfs -o mode=0755 tmpfs $R/run
mkdir -p $R/var/lib/docker $R/var/log/workbench-lab $R/run/sshd
mount --bind {docker_data} $R/var/lib/docker
mount --bind {logdir} $R/var/log/workbench-lab
# pivot_root, not chroot: `docker exec` (runc setns into the container's mount namespace)
# otherwise lands in the host's root instead of the container's.
mkdir -p $R/.oldroot
cd $R
pivot_root . .oldroot
cd /
umount -l /.oldroot
exec /bin/sh -c '
  hostname builder
  dockerd --host unix:///run/docker.sock --data-root /var/lib/docker \\
      >/var/log/workbench-lab/dockerd.log 2>&1 &
  exec /usr/sbin/sshd -D -f {state}/sshd_config -E /var/log/workbench-lab/sshd.log
'
"""


def pid() -> int | None:
    try:
        return int(PIDFILE.read_text())
    except (FileNotFoundError, ValueError):
        return None


def running() -> bool:
    return procs.alive(pid())


def init_pid() -> int:
    """The host PID of the builder's PID 1 (the unshare child)."""
    parent = pid()
    children = Path(f"/proc/{parent}/task/{parent}/children")
    try:
        return int(children.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        raise LabError("the lab builder is not running", "workbench lab up") from None


def docker(*args: str, stdin: bytes | None = None, timeout: float = 600) -> str:
    """Run the docker CLI inside the builder host (its mount, network and PID namespaces)."""
    argv = ["nsenter", "-t", str(init_pid()), "-m", "-n", "-p", "-u", "-r", "-w", "docker", *args]
    return run(
        argv,
        input=stdin,
        timeout=timeout,
        what=f"docker {args[0]} on the lab builder",
        hint=f"see {LOGDIR / 'dockerd.log'}",
    ).stdout.decode()


def up(tender: Path, boot_timeout: float = 60) -> None:
    for tool in ("sshd", "dockerd"):
        if shutil.which(tool) is None:
            raise LabError(
                f"{tool} is not installed on this machine (the builder runs it)",
                "run `workbench lab up --install-deps`",
            )
    if not (running() and procs.ssh_banner(HOST.address)):
        down()
        _start(boot_timeout)
    procs.wait_for(
        _docker_ready, 60, "dockerd on the lab builder", f"see {LOGDIR}/dockerd.log", interval=0.5
    )
    ensure_image(tender)


def _start(boot_timeout: float) -> None:
    for sub in ("mnt", "root"):
        (HOST.state / sub).mkdir(parents=True, exist_ok=True)
    LOGDIR.mkdir(parents=True, exist_ok=True)
    DOCKER_DATA.mkdir(parents=True, exist_ok=True)
    public = hostkeys.generate_host_key(HOST.state / "ssh_host_ed25519_key")
    shutil.copy(config.KEY.with_suffix(".pub"), HOST.state / "authorized_keys")
    (HOST.state / "sshd_config").write_text(
        SSHD_CONFIG.format(address=HOST.address, state=HOST.state)
    )
    (HOST.state / "init.sh").write_text(
        INIT.format(root=ROOT, state=HOST.state, docker_data=DOCKER_DATA, logdir=LOGDIR)
    )
    argv = [
        "nsenter",
        f"--net=/run/netns/{HOST.netns}",
        "--",
        "unshare",
        "--mount",
        "--uts",
        "--pid",
        "--fork",
        "--kill-child",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        str(HOST.state / "init.sh"),
    ]
    child = procs.spawn(argv, LOG)
    PIDFILE.write_text(f"{child}\n")
    hostkeys.record(HOST.address, public)
    procs.wait_for(
        lambda: procs.ssh_banner(HOST.address) or not procs.alive(child),
        boot_timeout,
        "the lab builder's sshd",
        f"see {LOG}",
    )
    if not procs.alive(child):
        tail = LOG.read_text(errors="replace").strip().splitlines()[-3:]
        raise LabError(f"the lab builder stopped while starting: {' / '.join(tail)}", f"see {LOG}")


def _docker_ready() -> bool:
    try:
        return bool(docker("version", "--format", "{{.Server.Version}}", timeout=10).strip())
    except LabError:
        return False


def _image_key(tender: Path) -> str:
    import hashlib

    digest = hashlib.sha256(rootfs.recipe_key().encode())
    for item in sorted(_context_files(tender).items()):
        digest.update(item[0].encode() + item[1])
    return digest.hexdigest()[:16]


def _context_files(tender: Path) -> dict[str, bytes]:
    image = resources.files("workbench.lab.image")
    files = {
        name: image.joinpath(name).read_bytes()
        for name in ("Dockerfile", "opam", "mirage", "dune", "ocaml")
    }
    files["solo5elf.py"] = resources.files("workbench.lab").joinpath("solo5elf.py").read_bytes()
    files["solo5-hvt"] = tender.read_bytes()
    # What `mirage configure -t virtio && make build` links in the double: the lab's multiboot
    # test guest (workbench/lab/guest), wrapped with the unikernel's manifest by dune.
    files["virtio-guest.bin"] = testguest.flat()
    return files


def ensure_image(tender: Path) -> str:
    """Build the lab OPAM image double unless one from the same recipe is there."""
    key = _image_key(tender)
    have = docker("images", "--filter", f"label=org.workbench.lab.key={key}", "-q", IMAGE)
    if have.strip():
        return IMAGE
    base = f"{BASE_REPO}:{rootfs.recipe_key()}"
    if not docker("images", "-q", base).strip():
        tar = run(
            ["tar", "-C", str(rootfs.rootfs_dir()), "--exclude=./.workbench-complete", "-c", "."],
            timeout=600,
            what="packing the lab rootfs",
        ).stdout
        docker("import", "-", base, stdin=tar)
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar_out:
        for name, data in _context_files(tender).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar_out.addfile(info, io.BytesIO(data))
    docker(
        "build",
        "-q",
        "--build-arg",
        f"BASE={base}",
        "--label",
        f"org.workbench.lab.key={key}",
        "-t",
        IMAGE,
        "-",
        stdin=context.getvalue(),
    )
    return IMAGE


def down() -> None:
    procs.stop(pid(), timeout=20)
    for leftover in procs.netns_pids(HOST.netns):
        procs.stop(leftover, timeout=5)
    PIDFILE.unlink(missing_ok=True)
