"""``manage.py sensors_device``: MQTT logins of devices and readers.

    sensors_device add --thing 12 [--login NAME] [--password PW]   a device (one per Thing)
    sensors_device add-reader --user alice [--login NAME]           a reader (subscriptions)
    sensors_device reset LOGIN                                      a new password
    sensors_device remove LOGIN
    sensors_device list

The password is printed once (only its hash is kept); a running broker reloads its password
file and ACL (SIGHUP) after each change.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Add, reset, remove or list the MQTT logins of devices (Things) and readers (users)."

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="a device login for a Thing")
        add.add_argument("--thing", type=int, required=True, help="the Thing's id")
        add.add_argument("--login", help="login name (default thing-<id>)")
        add.add_argument("--password", help="password (default: a random one, printed)")
        reader = sub.add_parser("add-reader", help="a reader login for a user")
        reader.add_argument("--user", required=True, help="the user's name")
        reader.add_argument("--login", help="login name (default: the user's name)")
        reader.add_argument("--password", help="password (default: a random one, printed)")
        reset = sub.add_parser("reset", help="a new password for a login")
        reset.add_argument("login")
        remove = sub.add_parser("remove", help="remove a login")
        remove.add_argument("login")
        sub.add_parser("list", help="list the logins")

    def handle(self, *args, action: str, **opts):
        from django.contrib.auth import get_user_model

        from sensors.mqtt import logins
        from sensors.mqtt.models import MqttLogin

        try:
            if action == "add":
                login, pw = logins.add_device(opts["thing"], opts["login"], opts["password"])
            elif action == "add-reader":
                user = get_user_model().objects.filter(username=opts["user"]).first()
                if user is None:
                    raise logins.LoginError("user", f"user: no user {opts['user']!r}")
                login, pw = logins.add_reader(user, opts["login"], opts["password"])
            elif action == "reset":
                login, pw = logins.reset_password(opts["login"])
            elif action == "remove":
                deleted, _ = MqttLogin.objects.filter(username=opts["login"]).delete()
                if not deleted:
                    raise logins.LoginError("login", f"login: no MQTT login {opts['login']!r}")
                self.stdout.write(f"removed {opts['login']}")
                return
            else:
                for row in MqttLogin.objects.order_by("username"):
                    who = f"thing {row.thing_id}" if row.thing_id else f"user {row.user_id}"
                    state = "" if row.is_active else " (inactive)"
                    self.stdout.write(f"{row.username}\t{row.kind}\t{who}{state}")
                return
        except logins.LoginError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from None
        self.stdout.write(f"login: {login.username}\npassword: {pw}")
