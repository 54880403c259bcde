"""``manage.py adduser NAME [--staff] [--editor CITY]...`` (``bin/citytwin adduser``): make an
account and print its password once. ``--first-admin FILE`` makes the first administrator of a
fresh install (only when the twin has no administrator yet) and keeps its password in FILE."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from layers.accounts import AccountRejected, add_user


class Command(BaseCommand):
    help = "Make an account (a random password is printed once unless --password-stdin)."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?")
        parser.add_argument("--staff", action="store_true", help="may use the admin pages")
        parser.add_argument(
            "--editor", action="append", default=[], metavar="CITY",
            help="may import into and replace the base data of CITY (name or id; repeatable)",
        )  # fmt: skip
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )
        parser.add_argument(
            "--first-admin", metavar="FILE",
            help="make the administrator 'admin' if the twin has none yet; password kept in FILE",
        )  # fmt: skip

    def handle(self, *args, **opts):
        if opts["first_admin"]:
            return self._first_admin(Path(opts["first_admin"]))
        password = sys.stdin.readline().rstrip("\n") if opts["password_stdin"] else None
        try:
            user, password = add_user(
                opts["username"] or "",
                password=password,
                staff=opts["staff"],
                editor_of=tuple(opts["editor"]),
                email=opts["email"],
            )
        except AccountRejected as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from None
        roles = ", ".join(f"editor of {c}" for c in opts["editor"]) or "no city roles"
        self.stdout.write(
            f"user {user.username} created ({'staff, ' if user.is_staff else ''}{roles})"
        )
        if not opts["password_stdin"]:
            self.stdout.write(
                f"password: {password}\n(shown once: sign in on the map and change it under "
                "'Change password')"
            )

    def _first_admin(self, path: Path) -> None:
        if get_user_model().objects.filter(is_superuser=True).exists():
            return  # said once, when it was made
        user, password = add_user("admin", superuser=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"user: {user.username}\npassword: {password}\n")
        self.stdout.write(
            "A first administrator was made for this fresh install:\n"
            f"  user: {user.username}\n  password: {password}\n"
            f"  (also in {path}, readable by this machine's {path.owner()} only)\n"
            "Sign in on the map (top right), change the password under 'Change password', and "
            "make accounts for others with: bin/citytwin adduser NAME [--staff] [--editor CITY]"
        )
