from django.core.management.base import BaseCommand, CommandError

from billing import payments
from billing.actions import do_ensure_stripe_prices


class Command(BaseCommand):
    help = "Find or make the Stripe price of every paid plan and add-on (by lookup key) and store its id."

    def handle(self, *args, **options):
        try:
            found = do_ensure_stripe_prices()
        except (payments.NotConfigured, payments.PaymentError) as error:
            raise CommandError(str(error)) from error
        for key, price in found.items():
            self.stdout.write(f"{key}: {price}")
