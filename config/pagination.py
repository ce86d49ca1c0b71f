"""The API's one paginator (REST_FRAMEWORK DEFAULT_PAGINATION_CLASS).

Its own module, importing nothing of DRF's views: DRF imports the classes its settings name
while it builds APIView, so a settings class beside views would import itself in a circle."""

from rest_framework.pagination import PageNumberPagination

# The most rows one page of a list may hold (`?page_size=`).
MAX_PAGE_SIZE = 100


class PagePagination(PageNumberPagination):
    """The API's one shape for a list: `{count, next, previous, results}`, `?page=` and
    `?page_size=` (PAGE_SIZE by default, at most MAX_PAGE_SIZE). A page past the last is a 404.
    The message feeds are the one other shape: a seq cursor with `more` (docs/api.md)."""

    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1, "maximum": self.max_page_size}
                parameter["description"] = (
                    f"Rows per page: {self.page_size} unless given, at most {self.max_page_size}."
                )
            elif parameter["name"] == self.page_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
        return parameters
