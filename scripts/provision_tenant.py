"""Onboard a shop from a script: the same arguments as `chatcentral tenant create`.

    python scripts/provision_tenant.py --slug S --name N --phone-number-id P \
        --display-phone D --flow grocery --admin-phone +52... [--catalog products.csv]
"""

from __future__ import annotations

import sys

from chatcentral.cli import main

if __name__ == "__main__":
    sys.exit(main(["tenant", "create", *sys.argv[1:]]))
