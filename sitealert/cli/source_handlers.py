"""What `sitealert source …` does (sitealert.cli.source_commands parses the arguments)."""

import json
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from sitealert.cli.errors import CommandError
from sitealert.cli.server_handlers import CLI_ACTOR
from sitealert.federation.models import Source
from sitealert.federation.pull import is_stale, lag
from sitealert.federation.sources import SourceError, add_source, pull_sources, remove_source, source_named
from sitealert.organizations.models import Organization


def _refused(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except (SourceError, PermissionDenied) as exc:
        raise CommandError(exc) from None


def cmd_source_add(args):
    root = b""
    if args.root:
        try:
            root = Path(args.root).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read the trusted root {args.root}: {exc.strerror or exc}") from None
    elif args.mirror:
        raise CommandError("--mirror needs --root ROOT_JSON: the mirror's root metadata, obtained out of band, "
                           "pins the keys every pull is verified against")
    contributor = None
    if args.org:
        try:
            contributor = Organization.objects.get(slug=args.org)
        except Organization.DoesNotExist:
            raise CommandError(f"no organization with slug {args.org!r}") from None
    elif args.list:
        raise CommandError("--list needs --org SLUG: the local contributor whose whole list the URL holds")
    kind, url = ((Source.Kind.API, args.api) if args.api else (Source.Kind.MIRROR, args.mirror) if args.mirror
                 else (Source.Kind.LIST, args.list))
    source = _refused(add_source, args.name, kind=kind, url=url, token=args.token, root=root,
                      contributor=contributor, every=args.every, republish=not args.no_republish,
                      max_removal_share=args.max_removal_share, actor=CLI_ACTOR)
    print(f"added {source.name} ({source.kind} {source.url}); 'sitealert source pull {source.name}' pulls it now, "
          f"the worker every {source.every} s")
    return 0


def _state(source, now):
    return {"name": source.name, "kind": source.kind, "url": source.url, "enabled": source.enabled,
            "version": source.version, "epoch": source.epoch, "authorities": source.authorities.count(),
            "last_success_at": source.last_success_at.isoformat() if source.last_success_at else None,
            "lag_seconds": round(lag(source, now)), "stale": is_stale(source, now),
            "last_error": source.last_error or None, "pending": source.pending is not None}


def cmd_source_list(args):
    now = timezone.now()
    states = [_state(source, now) for source in Source.objects.all()]
    if args.json:
        print(json.dumps(states, indent=1))
        return 0
    if not states:
        print("no sources; 'sitealert source add' subscribes to one")
    for s in states:
        flags = "".join(f" [{flag}]" for flag, on in (("stale", s["stale"]), ("disabled", not s["enabled"]),
                                                     ("awaiting confirmation", s["pending"])) if on)
        print(f"{s['name']}  {s['kind']} {s['url']}  version {s['version']}  {s['authorities']} authorities  "
              f"lag {s['lag_seconds']} s{flags}")
        if s["last_error"]:
            print(f"    last error: {s['last_error']}")
    return 0


def cmd_source_pull(args):
    if args.all and args.names:
        raise CommandError("give source names or --all, not both")
    if not args.all and not args.names:
        raise CommandError("name the sources to pull, or --all")
    sources = (list(Source.objects.filter(enabled=True)) if args.all
               else [_refused(source_named, name) for name in args.names])
    failed = 0
    for result in pull_sources(sources, full=args.full):
        if result.error:
            failed += 1
            print(f"{result.source}: failed, keeps version {result.version}: {result.error}")
        elif result.pending:
            print(f"{result.source}: a run is held for the contributor's confirmation "
                  f"('sitealert source confirm {result.source}')")
        elif result.unchanged:
            print(f"{result.source}: unchanged at version {result.version}")
        else:
            print(f"{result.source}: version {result.version}{' (full)' if result.full else ''}: "
                  f"{result.added} added, {result.updated} updated, {result.removed} removed, {result.held} held, "
                  f"{result.skipped} authorities skipped")
    return 1 if failed else 0


def cmd_source_remove(args):
    source = _refused(source_named, args.name)
    removed = _refused(remove_source, source, purge=args.purge, actor=CLI_ACTOR)
    print(f"removed {args.name}" + (f" and the {removed} listings it brought" if removed else ""))
    return 0


def cmd_source_confirm(args):
    source = _refused(source_named, args.name)
    if source.kind != Source.Kind.LIST:
        raise CommandError(f"{source.name} is not a plain-list source: only those hold runs for confirmation")
    if source.pending is None:
        raise CommandError(f"{source.name} has no run awaiting confirmation")
    from sitealert.federation import plainlist  # fed-list's plain lists

    result = _refused(plainlist.confirm_pending, source, actor=CLI_ACTOR)
    print(f"{source.name}: confirmed" + (f": {result}" if result is not None else ""))
    return 0
