def is_htmx(request) -> bool:
    """An htmx request wants the page's partial, not the whole page."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")
