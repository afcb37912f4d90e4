"""plan_rate_limited, the decorator API views take: the plan's requests a minute and
API calls a period, answered with 429 and Retry-After."""

import json

import pytest
from django.http import JsonResponse
from django.test import RequestFactory

from billing.limits import plan_rate_limited
from billing.models import ApiCallCount, BillingEvent, Plan
from tenants.models import Tenant


@plan_rate_limited
def api_view(request):
    return JsonResponse({"ok": True})


@pytest.fixture
def call(solo):
    def call():
        request = RequestFactory().get("/api/v1/bots/", HTTP_HOST=f"{solo.tenant.slug}.localhost")
        # What the host middleware loads on every request.
        request.tenant = Tenant.objects.select_related("subscription__plan").get(pk=solo.tenant.pk)
        return api_view(request)

    return call


def calls_counted(solo) -> int:
    return ApiCallCount.objects.get(tenant=solo.tenant, period_start=solo.subscription.current_period_start).calls


def test_requests_beyond_the_plan_s_rate_a_minute_get_429_with_retry_after(solo, call):
    solo.on("free")  # 10 a minute
    answers = [call() for _ in range(11)]
    assert [answer.status_code for answer in answers] == [200] * 10 + [429]
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60
    assert calls_counted(solo) == 10


def test_calls_beyond_the_period_s_quota_get_429_until_the_next_period(solo, call):
    solo.on("free")
    Plan.objects.filter(key="free").update(api_calls_per_month=3, api_rate_per_minute=100)
    answers = [call() for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    period_left = (solo.subscription.current_period_end - solo.subscription.current_period_start).total_seconds()
    assert period_left - 60 < int(answers[-1]["Retry-After"]) <= period_left
    assert json.loads(answers[-1].content) == {"error": "This workspace used all the API calls its plan includes this period."}
    assert calls_counted(solo) == 3


def test_the_call_that_reaches_80_percent_of_the_quota_warns_the_owners(solo, call):
    solo.on("free")
    Plan.objects.filter(key="free").update(api_calls_per_month=5, api_rate_per_minute=100)
    warnings = BillingEvent.objects.filter(tenant=solo.tenant, kind=BillingEvent.Kind.QUOTA_WARNING,
                                           data__quota="api_calls_per_month")
    for _ in range(3):
        call()
    assert not warnings.exists()
    call()
    call()
    assert [w.data for w in warnings] == [{"quota": "api_calls_per_month", "used": 4, "limit": 5}]


def test_unlimited_calls_are_counted_for_the_usage_page(solo, call):
    solo.on("premium")
    for _ in range(3):
        assert call().status_code == 200
    assert calls_counted(solo) == 3
