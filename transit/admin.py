from django.contrib import admin

from .models import Feed


@admin.register(Feed)
class FeedAdmin(admin.ModelAdmin):
    list_display = ("name", "city", "source", "visibility", "owner", "imported_at")
    list_filter = ("source", "visibility", "city")
