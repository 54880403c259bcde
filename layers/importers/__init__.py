"""Importers: OSM PBF, vector files, rasters. Each import is one database transaction."""


class ImportRejected(Exception):
    """The input cannot be imported; nothing was written.

    ``field`` names what is wrong (a form field, a file, a column), ``message`` says why.
    """

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message}
