"""Generated summary logs for `mailspy report` and `htmlspy.pl`: the same lines for both.

Addresses are spread over their domains, senders and recipients drawn at random
(seeded: every run writes the same log), one to three recipients per message,
a share of the messages with one or two attachments, times a few seconds apart
over as many days as the volume needs. The layout is mailspy's text summary line,
which the original's htmlspy.pl also reads (it skips the keys it does not know).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

EXTENSIONS = ("pdf", "docx", "xlsx", "zip", "jpg", "png", "txt", "csv", "exe", "ics")
WORDS = ("invoice", "meeting", "report", "Q3", "figures", "lunch", "contract", "draft",
         "review", "budget", "travel", "urgent", "minutes", "plan", "offer", "order")
START = 1_795_000_000  # 2026-11-18, a Wednesday


def write_text_log(path: Path, lines: int, addresses: int = 3_000, domains: int = 60,
                   attachment_share: float = 0.3, seed: int = 13,
                   step_seconds: float = 6.0) -> Path:
    rng = random.Random(seed)
    names = [f"user{n}@dom{n % domains}.example" for n in range(addresses)]
    epoch = float(START)
    with open(path, "w", encoding="utf-8") as out:
        for n in range(lines):
            epoch += rng.uniform(0, 2 * step_seconds)
            stamp = time.strftime("%y-%m-%d %H:%M", time.gmtime(epoch))
            sender = rng.choice(names)
            fields = [stamp, f"time={int(epoch)}", f"from=<{sender}>"]
            fields += [f"to=<{rng.choice(names)}>" for _ in range(rng.randint(1, 3))]
            fields.append(f"size={rng.randint(400, 40_000)}")
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5)))
            fields.append(f"subject={words} {n}")
            if rng.random() < attachment_share:
                fields += [f"file={rng.choice(WORDS)}-{n}.{rng.choice(EXTENSIONS)}"
                           for _ in range(rng.randint(1, 2))]
            fields.append(f"queue={n:010X}")
            out.write("\t".join(fields) + "\n")
    return path
