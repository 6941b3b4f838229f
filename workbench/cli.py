"""Command line entry point. Kept import-light: `workbench --help` must start fast.

Each command's modules are imported only when it runs; the TUI (textual) is imported only when
`workbench` is started without a command (or as `workbench ui`).
"""

from __future__ import annotations

import argparse

from workbench import __version__
from workbench.cli_files import file_parsers, unikernel_option
from workbench.cli_lab import lab_parser
from workbench.errors import ConfigError
from workbench.usage import PROFILE_ENV, Parser, default_profile

EXIT_CODES = """\
exit codes:
  0  success                      5  remote timeout
  1  other failure                6  build failed
  2  bad profile or usage         7  unusable artifact (arch, target, ABI, file)
  3  cannot connect / host key    8  unhealthy after deploy
  4  remote command failed        9  lab error
 70  internal error (a bug: rerun with --debug and report it)   130  interrupted
"""


PROFILE_HELP = f"profile name or path (default: ${PROFILE_ENV}, or the only profile there is)"
# The commands that need one profile (ps, metrics, top and ui take every profile without one).
PROFILE_COMMANDS = {
    "render",
    "build",
    "deploy",
    "check",
    "plan",
    "status",
    "logs",
    "restart",
    "stop",
    "start",
    "block",
    "remove",
    "rollback",
    "image",
}


def build_parser() -> argparse.ArgumentParser:
    # The global flags are accepted before and after the command. Subcommands take them with
    # default=SUPPRESS so that `workbench --debug deploy ...` is not reset by the subparser.
    top = Parser(add_help=False)
    top.add_argument("--json", action="store_true", help="machine-readable output (JSON)")
    top.add_argument("--debug", action="store_true", help="show tracebacks for internal errors")
    common = Parser(add_help=False)
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="machine-readable output (JSON)",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks for internal errors",
    )

    parser = Parser(
        prog="workbench",
        description="Build, deploy, supervise and watch MirageOS/Solo5 unikernels on your own "
        "hosts. Profiles are looked up in ./profiles/NAME.yaml, then "
        "$XDG_CONFIG_HOME/workbench/profiles/NAME.yaml.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[top],
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "profiles",
        parents=[common],
        help="list profiles, or show one resolved",
        description="List the profiles found, or show one with every default resolved.",
    )
    psub = p.add_subparsers(dest="profiles_command", metavar="SUBCOMMAND")
    show = psub.add_parser("show", parents=[common], help="show one profile with defaults resolved")
    show.add_argument("name", help="profile name or path to a .yaml file")

    p = sub.add_parser(
        "render",
        parents=[common],
        help="print every file deploy would install",
        description="Print the systemd unit and network files deploy would install, each with its "
        "remote path. Without --artifact the devices are taken from the profile's mapping.",
    )
    p.add_argument("--profile", help=PROFILE_HELP)
    p.add_argument("--artifact", help="a built .hvt/.spt to take devices from (its manifest)")
    unikernel_option(p)
    p.add_argument(
        "--backend",
        choices=["ifupdown", "systemd-networkd"],
        help="network backend (default: the profile's; 'auto' shows both)",
    )

    remote = Parser(add_help=False)
    remote.add_argument("--profile", help=PROFILE_HELP)
    remote.add_argument(
        "--host",
        action="append",
        metavar="NAME",
        help="only this target (repeatable; default: all targets)",
    )
    unikernel_option(remote)
    _host_key_option(remote)

    p = sub.add_parser(
        "build",
        parents=[common, remote],
        help="build the unikernel in an OPAM container on the build host",
        description="On the profile's build host, over its SSH connection: check the builder's "
        "arch against the targets', make sure the image is there, upload the source, run mirage "
        "configure, make depend and make build in a container, and fetch dist/NAME.hvt and the "
        "solo5-hvt built with it. The same source, image and flags reuse the cached result.",
    )
    p.add_argument("--output", metavar="DIR", help="also copy the artifact and tender here")
    p.add_argument("--no-cache", action="store_true", help="build even if a cached result fits")
    p.add_argument("--quiet", action="store_true", help="no build output lines")

    p = sub.add_parser(
        "deploy",
        parents=[common, remote],
        help="deploy the unikernel to the profile's targets",
        description="Preflight, upload (verified, into releases/ID), network, systemd unit, "
        "atomic switch, restart, boot and health check; automatic rollback to the previous "
        "release when the new one is not healthy. A profile with a source directory is built "
        "first (see `build`). A second deploy with nothing changed writes "
        "nothing and restarts nothing.",
    )
    p.add_argument(
        "--artifact",
        help="the built unikernel (dist/NAME.hvt); default: unikernel.artifact, else build "
        "unikernel.source first, as `workbench build` does",
    )
    p.add_argument(
        "--tender",
        help="the solo5-hvt built with it (default: unikernel.tender, the build's own, "
        "else the one installed on the host)",
    )
    p.add_argument("--no-cache", action="store_true", help="rebuild even if a cached build fits")
    p.add_argument("--restart", action="store_true", help="restart even if nothing changed")
    p.add_argument(
        "--no-rollback",
        action="store_true",
        help="leave a failed release in place instead of rolling back",
    )
    p.add_argument(
        "--parallel", type=int, default=4, metavar="N", help="hosts deployed at once (default 4)"
    )
    p.add_argument(
        "--rolling",
        action="store_true",
        help="one host at a time; stop at the first failed health check",
    )
    p.add_argument("--quiet", action="store_true", help="no unikernel log lines")

    p = sub.add_parser(
        "check",
        parents=[common, remote],
        help="preflight facts of the targets and builder",
        description="Read-only: arch, 64-bit kernel and userland, /dev/kvm and whether the "
        "service user can open it (hvt) or seccomp filters (spt), /dev/net/tun, systemd, "
        "network backend, disk, memory, the installed tender; the build host's docker. Each "
        "failure comes with a fix.",
    )
    p.add_argument("--artifact", help="also check against this unikernel (arch, ABI)")

    p = sub.add_parser(
        "plan",
        parents=[common, remote],
        help="what deploy would change and why, with diffs",
        description="Read-only on the targets: the decision deploy would execute, step by "
        "step with its reason (upload the release, create the service user, apply the "
        "network, write and enable the unit, switch, restart), and the unit and network "
        "files as diffs against the host's. Deploy executes exactly this decision. A "
        "profile with a source directory is built first (cached), as deploy would.",
    )
    p.add_argument(
        "--artifact",
        help="the built unikernel (dist/NAME.hvt); default: unikernel.artifact, else the "
        "(cached) build of unikernel.source, as deploy would use",
    )
    p.add_argument("--tender", help="the solo5-hvt built with it")
    p.add_argument(
        "--restart", action="store_true", help="as deploy --restart: restart even if unchanged"
    )
    p.add_argument("--no-cache", action="store_true", help="rebuild even if a cached build fits")
    p.add_argument("--quiet", action="store_true", help="no build output lines")

    sub.add_parser(
        "status",
        parents=[common, remote],
        help="unit state, release, uptime, restarts, crash loops",
        description="Unit state, current release and when it was made, uptime, restart "
        "count, tender memory, and the last boot's phase timings. A unit that systemd keeps "
        "restarting, or gave up on, also shows its crash loop and what ended the last run, e.g. "
        "'restarting: 4 restarts in 9 s, last: tender aborted (SIGABRT)', with a fix.",
    )

    p = sub.add_parser(
        "logs",
        parents=[common, remote],
        help="the unikernel's journal, classified",
        description="journalctl -o json for the unit, each line classified (banner, memory "
        "map, Mirage logs, aborts, tender errors) and coloured by level. --follow keeps going "
        "across unit restarts and SSH reconnects, resuming from the last line seen.",
    )
    p.add_argument("--lines", "-n", type=int, default=50, help="lines of history (default 50)")
    p.add_argument("--since", help="history since (journalctl --since syntax, e.g. '10 min ago')")
    p.add_argument("--follow", "-f", action="store_true", help="keep following")

    sub.add_parser(
        "restart",
        parents=[common, remote],
        help="restart the unikernel on its current release",
        description="Restart the unit on the release it runs, follow the boot, health check. "
        "Nothing is written.",
    )

    sub.add_parser(
        "stop",
        parents=[common, remote],
        help="stop the unikernel and keep it stopped across reboots",
        description="Stop and disable the unit (a reboot respects it). The release, the unit "
        "file and the network stay: `workbench start` brings it back, and a deploy starts it "
        "again too.",
    )

    sub.add_parser(
        "start",
        parents=[common, remote],
        help="start a stopped unikernel on its current release",
        description="Enable and start the unit on the release it has, follow the boot, health "
        "check. Nothing else is written; a running, enabled unit is left alone.",
    )

    p = sub.add_parser(
        "ps",
        parents=[common],
        help="every workbench unikernel on the hosts, whoever deployed it",
        description="Read each host's owner records (written at deploy) and the units' "
        "state: host, unikernel, owning profile, state, release, uptime, restarts, memory, "
        "taps. Ones deployed from another profile or machine show too. Without --profile: "
        "the targets of every profile found, each host once.",
    )
    p.add_argument("--profile", help="only this profile's targets")
    p.add_argument(
        "--host", action="append", metavar="NAME", help="only this target of the profile"
    )
    _host_key_option(p)

    for name, summary, text in (
        (
            "metrics",
            "sample what each unikernel uses: plain, --json, or a Prometheus endpoint",
            "Every INTERVAL seconds, one command per host reads every workbench unikernel "
            "there (from the owner records): CPU time and %, memory (the unit's cgroup), its "
            "taps' bytes, packets, errors and drops with rates, restarts, uptime; and the "
            "host's load, memory, temperatures and (on a Raspberry Pi) throttling. --json: "
            "host_metrics and unikernel_metrics events (README). --serve ADDR:PORT: the latest "
            "samples in Prometheus' text format at /metrics.",
        ),
        (
            "top",
            "a live table of what each unikernel uses",
            "As `metrics`, refreshed in place on a terminal; plain lines when piped.",
        ),
    ):
        p = sub.add_parser(name, parents=[common], help=summary, description=text)
        p.add_argument("--profile", help="this profile's targets (default: every profile's)")
        p.add_argument(
            "--host", action="append", metavar="NAME", help="only this target of the profile"
        )
        p.add_argument(
            "--interval", type=float, default=5.0, metavar="S", help="seconds between samples"
        )
        p.add_argument(
            "--count", type=int, default=0, metavar="N", help="stop after N samples (0: never)"
        )
        if name == "metrics":
            p.add_argument(
                "--serve",
                metavar="[ADDR:]PORT",
                help="serve Prometheus metrics at http://ADDR:PORT/metrics (a port alone: on "
                "127.0.0.1); give another address only if the network in between is yours "
                "(the page names every host and unikernel, and has no authentication)",
            )
        _host_key_option(p)

    p = sub.add_parser(
        "block",
        parents=[common],
        help="copy a unikernel's block image off its host (pull) or back (push)",
        description="Hash-verified at both ends, under the deploy lock. pull of a running "
        "unikernel's image needs --live (the copy may be torn: say so, or stop it first); "
        "push only while the unikernel is stopped, and replaces the image in one rename.",
    )
    bsub = p.add_subparsers(dest="block_command", metavar="pull|push", required=True)
    for verb, what in (("pull", "copy the image here"), ("push", "put FILE in its place")):
        b = bsub.add_parser(verb, parents=[common, remote], help=what)
        b.add_argument("--device", required=True, help="the manifest's BLOCK_BASIC device")
        b.add_argument("file", metavar="FILE", help="the local image file")
        if verb == "pull":
            b.add_argument(
                "--live",
                action="store_true",
                help="copy while the unikernel runs (the copy may not be consistent)",
            )

    p = sub.add_parser(
        "remove",
        parents=[common, remote],
        help="take the unikernel off its hosts (asks first)",
        description="Stop, disable and delete the unit; delete its taps, their files and its "
        "owner record; delete the bridge and its NAT only when no other unikernel uses them. "
        "Releases stay (a later deploy is quick) unless --purge, which also deletes the block "
        "images. Asks for confirmation on a terminal; --yes for scripts. Refuses a unit that "
        "another profile deployed.",
    )
    p.add_argument("--purge", action="store_true", help="also delete releases and block images")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask (scripts, CI)")

    sub.add_parser(
        "rollback",
        parents=[common, remote],
        help="back to the previous release",
        description="Switch current back to the release that ran before, restart, health check.",
    )

    p = sub.add_parser(
        "ui",
        parents=[common],
        help="the terminal UI (what `workbench` alone starts)",
        description="Dashboard of every profile's hosts, deploy, live logs, check, plan, "
        "restart and rollback, on the engine the commands use. ? lists the keys; Ctrl+P "
        "finds any action by name.",
    )
    p.add_argument(
        "--profile",
        action="append",
        metavar="NAME",
        help="only this profile (repeatable; default: every profile found)",
    )
    _host_key_option(p)

    file_parsers(sub, common, PROFILE_HELP)
    lab_parser(sub, common)
    return parser


def _host_key_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--accept-new-host-key",
        action="store_true",
        help="trust a host key that known_hosts does not have yet (never a changed one)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        args.command = "ui"  # `workbench` alone opens the terminal UI
    from workbench import headless

    if getattr(args, "profile", "") is None and args.command in PROFILE_COMMANDS:
        try:
            args.profile = default_profile()
        except ConfigError as exc:
            headless.report_error(exc, headless.Output(getattr(args, "json", False)))
            return exc.exit_code

    return headless.run(args)
