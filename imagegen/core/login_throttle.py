"""Login throttling (django-axes) with two limits: AXES_FAILURE_LIMIT failures for one
username from one address, and AXES_IP_FAILURE_LIMIT failures from one address whatever the
usernames (so an address cannot try a couple of passwords on every account).

django-axes compares every lockout parameter against one failure limit; this handler gives
the address-only parameter its own limit, and makes a successful login reset only that
username's failures from the address, not the address's failures on other names.
"""

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit, get_lockout_parameters
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum

ADDRESS_ONLY = ("ip_address", ["ip_address"])


class LoginThrottleHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials=None) -> int:
        """The failure count axes compares with AXES_FAILURE_LIMIT: the (username, address)
        count, or the limit itself once the address alone has reached its own limit."""
        limit = get_failure_limit(request, credentials)
        parameters = get_lockout_parameters(request, credentials)
        worst = 0
        for parameter, attempts in zip(
            parameters, self.get_user_attempts(request, credentials), strict=True
        ):
            count = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            if parameter in ADDRESS_ONLY:
                count = limit if count >= settings.AXES_IP_FAILURE_LIMIT else 0
            worst = max(worst, count)
        return worst

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        """A failure that names no account is not counted: a refused single sign-on
        (settings_app/oidc/), whose provider throttles its own logins; counting it would lock
        everyone behind one address out of single sign-on after a few refusals."""
        if request is not None and get_client_username(request, credentials) is None:
            return None
        return super().user_login_failed(sender, credentials, request, **kwargs)

    def reset_user_attempts(self, request, credentials=None) -> int:
        """After a successful login, forget that username's failures from this address only."""
        username = get_client_username(request, credentials)
        deleted, _ = AccessAttempt.objects.filter(
            username=username, ip_address=request.axes_ip_address
        ).delete()
        return deleted
