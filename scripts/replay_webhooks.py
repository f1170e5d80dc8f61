"""Replay captured webhook bodies, signed, against a running chatcentral.

Each JSON file holds either one webhook body or an object mapping case names to bodies
(the layout of pywa's test corpus). Every body is posted to /webhook with a valid
X-Hub-Signature-256; the script prints the answer for each and exits 1 on any 5xx.

    .venv/bin/python scripts/replay_webhooks.py ../shared/fixtures/pywa-updates \\
        --url http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from chatcentral.simulator.webhooks import signed


def bodies(folder: Path) -> Iterator[tuple[str, Any]]:
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "object" not in data:
            for case, body in data.items():
                yield f"{path.stem}:{case}", body
        else:
            yield path.stem, data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--secret", default=os.environ.get("WHATSAPP_APP_SECRET"))
    args = parser.parse_args()
    if not args.secret:
        parser.error("--secret or WHATSAPP_APP_SECRET is required")
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    answers: Counter[int] = Counter()
    with httpx.Client(base_url=args.url, timeout=30) as client:
        for name, body in bodies(args.folder):
            raw, headers = signed(body, args.secret)
            status = client.post("/webhook", content=raw, headers=headers).status_code
            answers[status] += 1
            print(f"{status}  {name}")
    print("answers:", ", ".join(f"{code}: {n}" for code, n in sorted(answers.items())))
    return 1 if any(code >= 500 for code in answers) else 0


if __name__ == "__main__":
    sys.exit(main())
