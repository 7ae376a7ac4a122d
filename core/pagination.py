from rest_framework.pagination import CursorPagination


class DefaultCursorPagination(CursorPagination):
    """Cursor pages never run COUNT(*), so they stay fast on millions of rows."""

    ordering: str | list[str] | tuple[str, ...] = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class StartCursorPagination(DefaultCursorPagination):
    ordering = ("-start", "-id")
