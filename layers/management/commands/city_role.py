"""Give or take a user's role in a city: ``manage.py city_role alice Helsinki`` (editor),
``--revoke`` to take it back, ``--list`` to show who has which role."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from layers.models import City, CityRole
from layers.roles import grant, revoke


class Command(BaseCommand):
    help = "Make a user an editor of a city (may import into and replace its base data)."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?")
        parser.add_argument("city", nargs="?", help="city name or id")
        parser.add_argument("--role", default=CityRole.Role.EDITOR, choices=CityRole.Role.values)
        parser.add_argument("--revoke", action="store_true", help="take the role away")
        parser.add_argument("--list", action="store_true", help="list every role given")

    def handle(self, *args, **opts):
        if opts["list"]:
            for role in CityRole.objects.select_related("user", "city").order_by("city__name"):
                self.stdout.write(f"{role.city.name}\t{role.role}\t{role.user.username}")
            return
        if not opts["username"] or not opts["city"]:
            raise CommandError("give a username and a city (or --list)")
        try:
            user = get_user_model().objects.get(username=opts["username"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {opts['username']!r}") from None
        name = opts["city"]
        city = City.objects.filter(name=name).first() or (
            City.objects.filter(pk=int(name)).first() if name.isdigit() else None
        )
        if city is None:
            raise CommandError(f"no city {name!r}")
        if opts["revoke"]:
            removed = revoke(user, city, opts["role"])
            self.stdout.write(
                f"{user.username}: {opts['role']} of {city.name} taken"
                if removed
                else f"{user.username} was no {opts['role']} of {city.name}"
            )
            return
        grant(user, city, opts["role"])
        self.stdout.write(f"{user.username} is now {opts['role']} of {city.name}")
