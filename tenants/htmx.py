from django.http import HttpResponse
from django.shortcuts import redirect, resolve_url


def is_htmx(request) -> bool:
    """An htmx request wants the page's partial, not the whole page."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


def redirect_to(request, to, *args, **kwargs):
    """A redirect that also works for htmx: it would follow a 302 in the background
    and swap the next page into the form, so htmx gets HX-Redirect instead."""
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = resolve_url(to, *args, **kwargs)
        return response
    return redirect(to, *args, **kwargs)
