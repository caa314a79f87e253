"""The generator's web analytics and marketing-email properties of a contact, named as HubSpot names them.

``hs_analytics_*`` (page views, sessions, first/last visit, first/last URL, referrers) and ``hs_email_*``
(last open / click and the last marketing email's name). About one contact in six has no tracking at all (no
tracking code on the site it came from, or a cookie-less visit), so briefs show the "not available" case too.
A separate random stream per contact (seeded from its id) leaves every other generated value unchanged.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone

PAGES = ("/", "/pricing", "/product", "/product/routing", "/blog/speed-to-lead", "/blog/lead-scoring",
         "/customers", "/compare/hubspot-vs-salesforce", "/demo", "/resources/ebook-sales-playbook", "/security")
REFERRERS = ("https://www.google.com/", "https://www.linkedin.com/", "https://news.ycombinator.com/",
             "https://www.g2.com/", None)
EMAILS = ("November webinar invite", "Product update: routing rules", "Speed-to-lead benchmark report",
          "Customer story: 8x more conversations", "Your trial ends soon")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def web_properties(contact_id: str, created_ms: int, last_ms: int, site: str) -> dict[str, str]:
    """The properties for one contact whose record exists from ``created_ms`` and last changed at ``last_ms``."""
    rng = random.Random(f"web-activity:{contact_id}")
    if rng.random() < 1 / 6 or last_ms <= created_ms:
        return {}
    sessions = rng.randint(1, 12)
    views = sessions + rng.randint(0, sessions * 4)
    first_visit = created_ms - rng.randint(0, 3 * 86_400_000)
    last_visit = rng.randint(max(created_ms, last_ms - 7 * 86_400_000), last_ms)
    base = f"https://{site}"
    props = {
        "hs_analytics_num_visits": str(sessions), "hs_analytics_num_page_views": str(views),
        "hs_analytics_first_visit_timestamp": _iso(first_visit), "hs_analytics_last_visit_timestamp": _iso(last_visit),
        "hs_analytics_first_url": base + rng.choice(PAGES), "hs_analytics_last_url": base + rng.choice(PAGES),
    }
    first_ref, last_ref = rng.choice(REFERRERS), rng.choice(REFERRERS)
    if first_ref:
        props["hs_analytics_first_referrer"] = first_ref
    if last_ref:
        props["hs_analytics_last_referrer"] = last_ref
    if rng.random() < 0.7:  # on a marketing list
        opened = rng.randint(max(created_ms, last_ms - 21 * 86_400_000), last_ms)
        props.update({"hs_email_last_open_date": _iso(opened), "hs_email_last_email_name": rng.choice(EMAILS),
                      "hs_email_open": str(rng.randint(1, 9))})
        if rng.random() < 0.5:
            props["hs_email_last_click_date"] = _iso(min(last_ms, opened + rng.randint(5_000, 600_000)))
            props["hs_email_click"] = str(rng.randint(1, 4))
    return props
