"""The plan's limits on API requests, for the REST API's views."""

import math
from functools import wraps

from django.http import JsonResponse
from django.utils import timezone

from billing.actions import do_count_api_call
from tenants.ratelimit import hit


def plan_rate_limited(view):
    """Hold an API view to the workspace's plan: its requests a minute (a sliding window
    per workspace) and its API calls a billing period. Beyond either: 429 with
    Retry-After. Calls refused by the minute's limit do not use up the period's."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        subscription = request.tenant.subscription
        allowed, retry_after = hit(f"api:{request.tenant.schema_name}", subscription.plan.api_rate_per_minute, 60)
        if not allowed:
            return too_many("Too many requests for this workspace's plan; slow down.", retry_after)
        if do_count_api_call(subscription) is None:
            wait = (subscription.current_period_end - timezone.now()).total_seconds()
            return too_many("This workspace used all the API calls its plan includes this period.",
                            max(1, math.ceil(wait)))
        return view(request, *args, **kwargs)

    return wrapped


def too_many(message: str, retry_after: int) -> JsonResponse:
    response = JsonResponse({"error": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
