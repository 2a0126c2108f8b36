"""immunectl: the Immune command line over ControlService."""

import argparse
import getpass
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path
from typing import TextIO

import grpc
import yaml

from . import names, render
from .client import Client
from .errors import ImmuneError
from .options import DEFAULT_TARGET, Options

EXIT_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT: 2,
    grpc.StatusCode.NOT_FOUND: 3,
    grpc.StatusCode.FAILED_PRECONDITION: 4,
    grpc.StatusCode.UNAVAILABLE: 5,
    grpc.StatusCode.DEADLINE_EXCEEDED: 5,
    grpc.StatusCode.UNAUTHENTICATED: 6,
    grpc.StatusCode.PERMISSION_DENIED: 6,
}
EPILOG = """exit codes:
  0  done
  1  any other error
  2  bad arguments (here or as judged by control)
  3  not found (no such agent, incident or policy)
  4  not allowed in the incident's state (e.g. approved twice); for --all, any one failed
  5  control unreachable or timed out (safe to retry)
  6  not signed in, or the role lacks the right

environment: IMMUNE_CONTROL, IMMUNE_ACTOR, IMMUNE_TOKEN stand in for the flags."""


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run one immunectl command; returns its exit code."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    try:
        with Client(_options(args)) as client:
            return args.run(client, args, out) or 0
    except ImmuneError as exc:
        print(f"immunectl: {exc}", file=sys.stderr)
        return EXIT_CODES.get(exc.code, 1)
    except (ValueError, OSError) as exc:
        print(f"immunectl: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _options(args) -> Options:
    for flag in ("ca", "cert", "key"):
        path = getattr(args, flag)
        if path and not os.path.isfile(path):
            raise ValueError(f"--{flag} {path}: no such file")
    if bool(args.cert) != bool(args.key):
        raise ValueError("--cert and --key go together")
    return Options(
        target=args.control,
        actor=args.actor,
        token=args.token,
        tls=args.tls or bool(args.ca),
        ca_file=args.ca,
        cert_file=args.cert,
        key_file=args.key,
        timeout_seconds=args.timeout,
    )


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


# commands: each prints its result and returns an exit code (None for 0)


def agents(client: Client, args, out: TextIO):
    found = client.agents(status=args.status, query=args.query)
    if args.output == "json":
        return render.as_json(found, out)
    render.table(
        found,
        [
            ("ID", lambda a: a.id),
            ("STATUS", lambda a: render.short(names.STATUS, a.status)),
            ("MODEL", lambda a: a.model or "-"),
            ("PROVIDER", lambda a: a.provider or "-"),
            ("SIDECAR", lambda a: a.sidecar_id or "-"),
            ("INCIDENT", lambda a: a.open_incident_id or "-"),
            ("LAST SEEN", lambda a: render.when(a.last_seen_time)),
        ],
        out,
    )


def agent(client: Client, args, out: TextIO):
    found = client.agent(args.id)
    if args.output == "json":
        return render.as_json(found, out)
    a = found.agent
    render.fields(
        [
            ("agent", a.id),
            ("name", a.name or "-"),
            ("status", render.short(names.STATUS, a.status)),
            ("model", f"{a.model or '-'} ({a.provider or '-'})"),
            ("mcp servers", ", ".join(a.mcp_servers) or "-"),
            ("tools", ", ".join(a.tools) or "-"),
            ("sidecar", a.sidecar_id or "-"),
            ("open incident", a.open_incident_id or "-"),
            ("samples shown", len(found.samples)),
        ],
        out,
    )
    out.write("\nincidents\n")
    _incident_table(found.incidents, out)


def incidents(client: Client, args, out: TextIO):
    found = client.incidents(states=args.state or (), agent_id=args.agent, page_size=args.limit)
    if args.output == "json":
        return render.as_json(found, out)
    _incident_table(found, out)


def incident(client: Client, args, out: TextIO):
    found = client.incident(args.id)
    if args.output == "json":
        return render.as_json(found, out)
    render.fields(
        [
            ("incident", found.id),
            ("agent", found.agent_id + (" (fleet)" if found.fleet else "")),
            ("state", render.short(names.STATE, found.state)),
            ("severity", f"{found.severity:.1f}"),
            ("diagnosis", render.short(names.DIAGNOSIS, found.diagnosis)),
            ("detected", render.when(found.detect_time)),
        ],
        out,
    )
    out.write("\nhypotheses\n")
    render.table(
        found.hypotheses,
        [
            ("DIAGNOSIS", lambda h: render.short(names.DIAGNOSIS, h.diagnosis)),
            ("CONFIDENCE", lambda h: f"{h.confidence:.2f}"),
            ("EVIDENCE", lambda h: "; ".join(h.evidence)),
        ],
        out,
    )
    out.write("\ntimeline\n")
    render.table(
        found.timeline,
        [
            ("TIME", lambda e: render.when(e.time)),
            ("EVENT", lambda e: e.kind),
            ("BY", lambda e: e.actor or "-"),
            ("MESSAGE", lambda e: e.message + (f" (reason: {e.reason})" if e.reason else "")),
        ],
        out,
    )


def decide(client: Client, args, out: TextIO):
    single = {"approve": client.approve, "reject": client.reject, "heal": client.heal_now}
    bulk = {"approve": client.approve_all, "reject": client.reject_all, "heal": client.heal_all}
    if args.all == bool(args.id):
        raise ValueError(f"{args.command}: name an incident ID or give --all")
    if args.all:
        results = bulk[args.command](reason=args.reason, agent_ids=args.agent or ())
        return _bulk(results, args, out)
    extra = {"action": args.action} if getattr(args, "action", "") else {}
    target = {"agent_id": args.id[6:]} if args.id.startswith("agent:") else {}
    done = single[args.command]("" if target else args.id, reason=args.reason, **target, **extra)
    if args.output == "json":
        return render.as_json(done, out)
    out.write(f"{done.id}: {render.short(names.STATE, done.state)}\n")


def memory(client: Client, args, out: TextIO):
    found = client.memory(agent_id=args.agent, diagnosis=args.diagnosis)
    if args.output == "json":
        return render.as_json(found, out)
    entries = list(found.agent) if args.agent else list(found.fleet)
    render.table(
        entries,
        [
            ("DIAGNOSIS", lambda m: render.short(names.DIAGNOSIS, m.diagnosis)),
            ("ACTION", lambda m: render.short(names.ACTION, m.action)),
            ("ATTEMPTS", lambda m: m.attempts),
            ("SUCCESSES", lambda m: m.successes),
            ("RATE", lambda m: f"{m.success_rate:.0%}"),
            ("LAST", lambda m: render.when(m.last_attempt_time)),
        ],
        out,
    )


def policies(client: Client, args, out: TextIO):
    found = client.policies()
    if args.output == "json":
        return render.as_json(found, out)
    render.table(
        found,
        [
            ("DIAGNOSIS", lambda p: render.short(names.DIAGNOSIS, p.diagnosis)),
            ("LADDER", lambda p: " → ".join(render.short(names.ACTION, a) for a in p.actions)),
            ("BY", lambda p: p.update_actor or "default"),
        ],
        out,
    )


def policy_set(client: Client, args, out: TextIO):
    ladders = yaml.safe_load(Path(args.file).read_text())
    if not isinstance(ladders, dict) or not ladders:
        raise ValueError(f"{args.file}: expected a mapping of diagnosis to a list of actions")
    done = []
    for diagnosis, actions in ladders.items():
        if not isinstance(actions, list):
            raise ValueError(f"{args.file}: {diagnosis}: expected a list of actions")
        done.append(client.upsert_policy(diagnosis, actions, reason=args.reason))
    if args.output == "json":
        return render.as_json(done, out)
    for p in done:
        ladder = " → ".join(render.short(names.ACTION, a) for a in p.actions)
        out.write(f"{render.short(names.DIAGNOSIS, p.diagnosis)}: {ladder}\n")


def events(client: Client, args, out: TextIO):
    newest = client.stats().last_event_sequence
    after = args.after or max(0, newest - args.limit)
    if not args.follow and after >= newest:
        return None
    for event in client.watch(after_sequence=after, agent_id=args.agent):
        if args.output == "json":
            out.write(json.dumps(render.plain(event), sort_keys=True) + "\n")
        else:
            state = render.short(names.STATE, event.to_state)
            out.write(
                f"{event.sequence:>6}  {render.when(event.time)}  {event.kind:<22} "
                f"{event.agent_id or '-':<16} {state:<17} {event.message}\n"
            )
        out.flush()
        if not args.follow and event.sequence >= newest:
            return None


def token(client: Client, args, out: TextIO):
    """A fresh token, shown once; control keeps only the hash in the line printed."""
    if not args.name or any(c.isspace() or c == "#" for c in args.name):
        raise ValueError(f"token name {args.name!r}: one word, with no spaces or '#'")
    made = "imm_" + secrets.token_urlsafe(32)
    line = f"{args.name} {args.role} {hashlib.sha256(made.encode()).hexdigest()}"
    if args.output == "json":
        print(json.dumps({"token": made, "token_file_line": line}), file=out)
        return
    print(f"token:           {made}", file=out)
    print(f"token file line: {line}", file=out)


def certs(client: Client, args, out: TextIO):
    """A development CA in DIR (kept for later runs), control's server certificate and sidecars'."""
    from . import certs as devca  # cryptography loads only for this command

    directory = Path(args.dir)
    ca = devca.load_or_create(directory, args.days)
    made = [directory / "ca.pem"]
    hosts = ("localhost", "127.0.0.1", *args.host)
    made += _pair(
        directory, "server", devca.issue(ca, hosts[0], hosts=hosts[1:], days=args.days), devca.write
    )
    for sidecar in args.sidecar:
        pem = devca.issue(ca, sidecar, client=True, days=args.days)
        made += _pair(directory, f"sidecar-{sidecar}", pem, devca.write)
    for path in made:
        print(path, file=out)


def _pair(directory: Path, stem: str, pem: tuple[bytes, bytes], write) -> list[Path]:
    cert, key = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
    write(cert, pem[0])
    write(key, pem[1], secret=True)
    return [cert, key]


def stats(client: Client, args, out: TextIO):
    found = client.stats()
    if args.output == "json":
        return render.as_json(found, out)
    by_status = ", ".join(f"{k} {v}" for k, v in sorted(found.agents_by_status.items()))
    render.fields(
        [
            ("agents", f"{found.agents_total} ({by_status or 'none'})"),
            ("samples", found.samples_total),
            ("infections", found.infections_total),
            ("open incidents", found.incidents_open),
            ("pending approvals", found.pending_approvals),
            ("rejected", found.rejected),
            ("healed", found.healed_total),
            ("success rate", f"{found.success_rate:.0%}"),
            ("sidecars connected", found.sidecars_connected),
            ("uptime", f"{found.uptime.seconds}s"),
        ],
        out,
    )


def audit(client: Client, args, out: TextIO):
    found = client.audit(actor=args.actor_filter, page_size=args.limit)
    if args.output == "json":
        return render.as_json(found, out)
    render.table(
        found,
        [
            ("TIME", lambda e: render.when(e.time)),
            ("ACTOR", lambda e: e.actor),
            ("METHOD", lambda e: e.method),
            ("TARGET", lambda e: e.target),
            ("RESULT", lambda e: e.result),
            ("REASON", lambda e: e.reason or "-"),
        ],
        out,
    )


def _incident_table(found, out: TextIO) -> None:
    render.table(
        found,
        [
            ("ID", lambda i: i.id),
            ("AGENT", lambda i: i.agent_id + (" (fleet)" if i.fleet else "")),
            ("STATE", lambda i: render.short(names.STATE, i.state)),
            ("SEVERITY", lambda i: f"{i.severity:.1f}"),
            ("DIAGNOSIS", lambda i: render.short(names.DIAGNOSIS, i.diagnosis)),
            ("DETECTED", lambda i: render.when(i.detect_time)),
        ],
        out,
    )


def _bulk(results, args, out: TextIO) -> int:
    if args.output == "json":
        render.as_json(results, out)
    else:
        render.table(
            results,
            [
                ("INCIDENT", lambda r: r.incident_id),
                ("AGENT", lambda r: r.agent_id),
                ("RESULT", lambda r: "ok" if r.ok else r.code),
                ("STATE", lambda r: render.short(names.STATE, r.state)),
                ("MESSAGE", lambda r: r.message or "-"),
            ],
            out,
        )
    return 0 if all(r.ok for r in results) else 4


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="immunectl",
        description="Immune command line: the fleet's agents, incidents and healing.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env = os.environ.get
    parser.add_argument(
        "--control", default=env("IMMUNE_CONTROL", DEFAULT_TARGET), help="control's HOST:PORT"
    )
    parser.add_argument(
        "--actor",
        default=env("IMMUNE_ACTOR") or getpass.getuser(),
        help="who you are, for the audit log (default: your login name)",
    )
    parser.add_argument("--token", default=env("IMMUNE_TOKEN", ""), help="bearer token")
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    parser.add_argument("--ca", default="", help="CA certificate (PEM) to trust; implies --tls")
    parser.add_argument("--cert", default="", help="client certificate (PEM) for mutual TLS")
    parser.add_argument("--key", default="", help="client key (PEM) for mutual TLS")
    parser.add_argument("--timeout", type=_positive, default=10.0, help="seconds per call")
    parser.add_argument(
        "-o", "--output", choices=("table", "json"), default="table", help="output format"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _reads(sub)
    _decisions(sub)
    _policy(sub)
    p = sub.add_parser(
        "token",
        help="make a bearer token and the line that gives it a role in control's token file",
    )
    p.add_argument(
        "name",
        help="who the token is for (the audit log's actor); for a sidecar, its sidecar id, "
        "or a prefix ending in '*' for the pods of one Deployment",
    )
    p.add_argument("role", choices=("viewer", "operator", "automation", "admin", "sidecar"))
    p.set_defaults(run=token)
    p = sub.add_parser(
        "certs",
        help="make a development CA and TLS certificates for control and sidecars",
        description="Writes DIR/ca.pem (reused when present), DIR/server.pem for control's "
        "--tls-cert-file (names: localhost, 127.0.0.1 and each --host) and "
        "DIR/sidecar-ID.pem client certificates for mutual TLS on the link, "
        "each with its -key.pem.",
    )
    p.add_argument("dir", help="where the CA and certificates go")
    p.add_argument("--host", action="append", default=[], help="another name control answers to")
    p.add_argument("--sidecar", action="append", default=[], help="a sidecar id to certify")
    p.add_argument("--days", type=int, default=365, help="validity of new certificates")
    p.set_defaults(run=certs)
    return parser


def _reads(sub) -> None:
    p = sub.add_parser("agents", help="list agents")
    p.add_argument("--status", default="", help=f"one of {', '.join(names.names(names.STATUS))}")
    p.add_argument("--query", default="", help="substring of id, name, model, tools, …")
    p.set_defaults(run=agents)
    p = sub.add_parser("agent", help="one agent: profile, status and incidents")
    p.add_argument("id")
    p.set_defaults(run=agent)
    p = sub.add_parser("incidents", help="list incidents, newest first")
    p.add_argument(
        "--state",
        action="append",
        help=f"repeatable; one of {', '.join(names.names(names.STATE))}",
    )
    p.add_argument("--agent", default="", help="only this agent's incidents")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(run=incidents)
    p = sub.add_parser("incident", help="one incident with its hypotheses and timeline")
    p.add_argument("id")
    p.set_defaults(run=incident)
    p = sub.add_parser("memory", help="immune memory: attempts and success rate per action")
    p.add_argument("--agent", default="", help="this agent's own entries instead of the fleet's")
    p.add_argument("--diagnosis", default="")
    p.set_defaults(run=memory)
    p = sub.add_parser("events", help="the event log; --follow streams new events")
    p.add_argument("--after", type=int, default=0, help="start after this sequence")
    p.add_argument("--limit", type=int, default=50, help="without --after: the last N events")
    p.add_argument("--agent", default="", help="only this agent's events")
    p.add_argument("--follow", "-f", action="store_true", help="keep streaming until Ctrl-C")
    p.set_defaults(run=events)
    p = sub.add_parser("stats", help="fleet totals")
    p.set_defaults(run=stats)
    p = sub.add_parser("audit", help="who did what, newest first")
    p.add_argument("--actor", dest="actor_filter", default="", help="only this actor")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(run=audit)


def _decisions(sub) -> None:
    helps = {
        "approve": "approve healing of a pending incident (or --all pending)",
        "reject": "reject healing: the agent stays quarantined (or --all pending)",
        "heal": "heal a rejected or expired incident now (or --all of them)",
    }
    for name, text in helps.items():
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("id", nargs="?", default="", help="incident ID, or agent:AGENT_ID")
        p.add_argument("--all", action="store_true", help="every incident it applies to")
        p.add_argument("--agent", action="append", help="with --all: only these agents")
        p.add_argument("--reason", default="", help="why, for the audit log")
        if name == "heal":
            p.add_argument(
                "--action",
                default="",
                help=f"apply this first: {', '.join(names.names(names.ACTION))}",
            )
        p.set_defaults(run=decide)


def _policy(sub) -> None:
    p = sub.add_parser("policies", help="the healing ladder of each diagnosis")
    p.set_defaults(run=policies)
    p = sub.add_parser("policy", help="change healing ladders")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    s = verbs.add_parser(
        "set",
        help="replace ladders from a YAML or JSON file {diagnosis: [action, …]}",
    )
    s.add_argument("file")
    s.add_argument("--reason", default="")
    s.set_defaults(run=policy_set)


if __name__ == "__main__":
    sys.exit(main())
