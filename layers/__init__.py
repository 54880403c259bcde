"""The twin's data: models, importers, API and vector tiles."""
