"""The API's default pagination (REST_FRAMEWORK's DEFAULT_PAGINATION_CLASS): keyset pages of
the size the user chose under Settings."""

from imagegen.core.pagination import NewestFirstPagination
from settings_app.models import items_per_page_for


class PreferredPageSizePagination(NewestFirstPagination):
    def preferred_page_size(self, request) -> int:
        return items_per_page_for(request.user)  # ITEMS_PER_PAGE unless chosen
