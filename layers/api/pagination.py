from rest_framework.pagination import LimitOffsetPagination
from rest_framework_gis.pagination import GeoJsonPagination as _GeoJson


class GeoJsonPagination(_GeoJson):
    """GeoJSON FeatureCollection pages with ``count``, ``next``, ``previous``; ?page_size= up to 1000."""

    page_size_query_param = "page_size"
    max_page_size = 1000


class PlainPagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000
