"""Workspace addresses: the `<slug>` in `<slug>.<BASE_DOMAIN>`."""

import re

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext as _

MIN_LENGTH = 3
MAX_LENGTH = 30

# Host labels we keep for ourselves: infrastructure, product areas and words that
# would let a workspace pass itself off as the platform.
RESERVED = frozenset(
    """
    admin administrator api app apps assets auth aviary beta billing blog cdn console
    dashboard dev docs email ftp help home imap login logout mail media
    mx news ns ns1 ns2 pop public root security signin signup smtp staff static stage
    staging status support system template test tenant tenant-template webhook webhooks
    ws wss www
    """.split()
)

_VALID = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


def slug_from_name(name: str) -> str:
    """The address a workspace called `name` gets: lower-case ASCII letters, digits, hyphens."""
    slug = re.sub(r"-{2,}", "-", slugify(name))
    return slug[:MAX_LENGTH].strip("-")


def validate_slug(slug: str) -> None:
    """Raise ValidationError with a message a person can act on."""
    if len(slug) < MIN_LENGTH:
        raise ValidationError(
            _("The workspace address must have at least %(min)d letters or digits.") % {"min": MIN_LENGTH},
            code="too_short",
        )
    if len(slug) > MAX_LENGTH:
        raise ValidationError(
            _("The workspace address can have at most %(max)d characters.") % {"max": MAX_LENGTH},
            code="too_long",
        )
    if not _VALID.match(slug) or "--" in slug:
        raise ValidationError(
            _("Use only lower-case letters, digits and single hyphens in the workspace address."),
            code="invalid",
        )
    if slug in RESERVED:
        raise ValidationError(
            _("“%(slug)s” is reserved. Please choose another workspace name.") % {"slug": slug},
            code="reserved",
        )


def schema_name_for(slug: str) -> str:
    """Slugs have no underscores, so this mapping never collides."""
    return "ws_" + slug.replace("-", "_")
