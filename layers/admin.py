"""The admin: roles per city (who may import into a city's base data)."""

from django.contrib import admin

from .models import CityRole


@admin.register(CityRole)
class CityRoleAdmin(admin.ModelAdmin):
    list_display = ("user", "city", "role", "granted_at")
    list_filter = ("role", "city")
    search_fields = ("user__username", "city__name")
    autocomplete_fields = ()
