"""Reads of compression data for statistics (/v1/dashboard); every read takes `account=`.

Kept apart from selectors.py, which lists and fetches images, because these reads are aggregates with their
own cost model (a cache in front of exact counts).
"""

from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Q

from accounts.models import Account
from compression.models import OptimizedImage, OriginalImage

IMAGE_COUNTS_CACHE_SECONDS = 60  # exact counts scan every row of the account: at most one scan a minute


@dataclass(frozen=True, slots=True)
class ImageCounts:
    original_images: int
    optimized_images: int


def image_counts(*, account: Account) -> ImageCounts:
    """Originals and optimized images of the account and its sub-accounts.

    Exact counts read every row of the account (about a second for a million originals in PostgreSQL), so
    they are cached per account for IMAGE_COUNTS_CACHE_SECONDS in the shared cache: a dashboard lagging a
    minute behind is fine, one taking a second is not.
    """
    key = f"crush:image_counts:{account.pk}"
    cached = cache.get(key)
    if cached is None:
        owners = Account.objects.filter(Q(pk=account.pk) | Q(parent=account.pk)).values("pk")
        cached = [
            OriginalImage.objects.filter(account__in=owners).count(),
            OptimizedImage.objects.filter(original__account__in=owners).count(),
        ]
        cache.set(key, cached, IMAGE_COUNTS_CACHE_SECONDS)
    return ImageCounts(original_images=cached[0], optimized_images=cached[1])
