"""Write a ``.env`` with freshly generated secrets, once:
``python -m imagegen.core.envfile [PATH]``.

Runs before Django is configured (the settings refuse to start without these secrets).
An existing file is left untouched.
"""

import secrets
import sys
from pathlib import Path

TEMPLATE = """\
# Written by `make run` on first start. See .env.example for every setting.
DEBUG=false
SECRET_KEY={secret_key}
ENCRYPTION_KEY={encryption_key}
HOST=127.0.0.1
PORT=8000
"""


def write_env(path: Path) -> bool:
    """Create ``path`` with new random secrets unless it exists; return whether it wrote."""
    if path.exists():
        return False
    path.write_text(
        TEMPLATE.format(
            secret_key=secrets.token_urlsafe(50),
            encryption_key=secrets.token_urlsafe(50),
        )
    )
    path.chmod(0o600)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    if write_env(target):
        print(f"Wrote {target} with new SECRET_KEY and ENCRYPTION_KEY.")  # noqa: T201
