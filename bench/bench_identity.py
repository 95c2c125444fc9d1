"""Figure 14: what identity and governance add to a request, each beside the same-run
reference it joins (issue #18).

    .venv/bin/python bench/bench_identity.py [--quick] [--repeat 300]

- the effective limits of a member of three groups with policies (``effective_limits``: the
  policies and the per-user row, then the most generous of each value), beside the same call
  for a user in no group: every submission, model list and the runner's claim resolve them;
- one audit entry (``audit.record``: redaction, the request's address and client, one
  insert), beside the admin's own LogEntry insert that Django writes for every admin change;
- the second factor's check of a code (``two_factor.verify``: decrypt the TOTP secret, the
  HMAC, the conditional update that uses the code up), beside the password step it follows
  (PBKDF2 with Django's default iterations, the production hasher).
Targets: limits of a grouped member ≤ 2× a user in no group; an audit entry ≤ 2× a LogEntry;
the code check ≤ 0.1× the password check.
"""

import random
import shutil
import tempfile
import time

from common import Row, base_parser, emit, p50, setup_django, versus_row

LIMITS_TARGET = 2.0
AUDIT_TARGET = 2.0
TOTP_TARGET = 0.1


def timed(call, before=None) -> float:
    """Milliseconds of one ``call()``; ``before()`` runs first, untimed."""
    if before is not None:
        before()
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def main(argv=None) -> list[Row]:
    parser = base_parser(__doc__)
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args(argv)
    repeat = args.repeat or (30 if args.quick else 300)
    from common import temp_sqlite_url

    folder = tempfile.mkdtemp(prefix="bench-identity-")
    setup_django(temp_sqlite_url(folder))
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType

    from generation.usage.policy import effective_limits
    from imagegen.core import audit
    from settings_app import two_factor
    from settings_app.devices import TotpDevice
    from settings_app.models import GroupPolicy

    User = get_user_model()
    member = User.objects.create_user("bench-member", password="x" * 12)
    loner = User.objects.create_user("bench-loner", password="x" * 12)
    for n, fields in enumerate(
        [
            {"allowed_providers": "offline\nopenai", "monthly_budget_usd": 50},
            {"allowed_models": "replicate/stability-ai/sdxl", "daily_image_limit": 200},
            {"max_running": 4, "max_queued": 40},
        ]
    ):
        group = Group.objects.create(name=f"bench-group-{n}")
        GroupPolicy.objects.create(group=group, **fields)
        group.user_set.add(member)

    device = TotpDevice.objects.create(user=member, name="bench", confirmed=True)
    from django_otp.oath import TOTP

    def fresh_code() -> str:
        # The code of the current step, with the device's "last used step" put back so the
        # same code is accepted again (untimed).
        TotpDevice.objects.filter(pk=device.pk).update(last_t=-1)
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        return f"{totp.token():0{device.digits}d}"

    codes = []
    hasher = PBKDF2PasswordHasher()
    encoded = hasher.encode("correct horse battery", hasher.salt())
    user_type = ContentType.objects.get_for_model(User)

    measures = {
        "limits, 3 groups": (lambda: effective_limits(member), None),
        "limits, no group": (lambda: effective_limits(loner), None),
        "audit entry": (
            lambda: audit.record(
                "budget.changed", actor=member, obj=loner, changes={"daily_image_limit": [10, 40]}
            ),
            None,
        ),
        "LogEntry": (
            lambda: LogEntry.objects.create(
                user=member,
                content_type=user_type,
                object_id=str(loner.pk),
                object_repr=str(loner),
                action_flag=CHANGE,
                change_message='[{"changed": {"fields": ["Daily image limit"]}}]',
            ),
            None,
        ),
        "code check": (
            lambda: codes.append(two_factor.verify(member, codes.pop()).ok),
            lambda: codes.append(fresh_code()),
        ),
        "password check": (lambda: hasher.verify("correct horse battery", encoded), None),
    }
    times = {name: [] for name in measures}
    for call, before in measures.values():  # warm-up
        timed(call, before)
    # Interleaved, so every measure sees the same machine state, and in a shuffled order each
    # round: a measure that always ran right after the 200 ms password hash found the CPU's
    # caches cold and read up to twice as slow as its reference.
    order = list(measures)
    shuffler = random.Random(14)
    for _ in range(repeat):
        shuffler.shuffle(order)
        for name in order:
            call, before = measures[name]
            times[name].append(timed(call, before))
    assert all(codes), "a fresh code was refused"
    value = {name: p50(samples) for name, samples in times.items()}

    def row(number, what, name, reference, target=None):
        return versus_row(number, f"{what}, p50 of {repeat}", value, name, reference, target)

    rows = [
        row("14a", "effective limits, member of 3 groups", "limits, 3 groups",
            "limits, no group", LIMITS_TARGET),
        row("14b", "one audit entry (audit.record)", "audit entry", "LogEntry", AUDIT_TARGET),
        row("14c", "two-factor code check (decrypt, HMAC, use up)", "code check",
            "password check", TOTP_TARGET),
    ]  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    emit("Figure 14: identity and governance per request", rows, args.json)
    return rows


if __name__ == "__main__":
    main()
