"""City.time_zone: the city's clock, filled for existing cities from the centre of their extent."""

from django.db import migrations, models


def fill_time_zones(apps, schema_editor):
    from layers.geo import time_zone_at

    City = apps.get_model("layers", "City")
    for city in City.objects.exclude(boundary=None):
        centre = city.boundary.centroid
        city.time_zone = time_zone_at(centre.x, centre.y)
        city.save(update_fields=["time_zone"])


class Migration(migrations.Migration):
    dependencies = [("layers", "0003_credible_inputs")]

    operations = [
        migrations.AddField(
            model_name="city",
            name="time_zone",
            field=models.CharField(
                default="UTC",
                help_text="IANA time zone of the city (from its centroid): the clock of every time "
                "shown and of the hours modelled (solar day, peak hour, sensor profiles)",
                max_length=64,
            ),
        ),
        migrations.RunPython(fill_time_zones, migrations.RunPython.noop),
    ]
