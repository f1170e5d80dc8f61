"""Prometheus metrics. Labels never carry tenant or customer ids (unbounded cardinality)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WEBHOOK_REQUESTS = Counter(
    "chatcentral_webhook_requests_total", "POST /webhook answers by outcome", ["outcome"]
)
WEBHOOK_LATENCY = Histogram(
    "chatcentral_webhook_seconds",
    "Time from request to acknowledgement of POST /webhook",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
INBOUND_MESSAGES = Counter(
    "chatcentral_inbound_messages_total", "Inbound messages by outcome", ["outcome"]
)
STATUS_UPDATES = Counter(
    "chatcentral_status_updates_total", "Status webhooks applied, by status", ["status"]
)
UNKNOWN_NUMBERS = Counter(
    "chatcentral_unknown_phone_number_total",
    "Changes for a phone_number_id that is unknown or inactive",
    ["reason"],
)
UNHANDLED_UPDATES = Counter(
    "chatcentral_unhandled_updates_total", "Updates stored raw for inspection", ["reason"]
)
OUTBOX_SENT = Counter("chatcentral_outbox_sent_total", "Graph API calls accepted", ["kind"])
OUTBOX_RETRIES = Counter(
    "chatcentral_outbox_retries_total", "Graph API calls scheduled for retry", ["reason"]
)
OUTBOX_FAILED = Counter(
    "chatcentral_outbox_failed_total", "Graph API calls failed for good (alerted)", ["code"]
)
MARK_READ_FAILED = Counter(
    "chatcentral_mark_read_failed_total",
    "Mark-reads given up after their reply was accepted (best effort, not retried later)",
)
OUTBOX_SEND_SECONDS = Histogram(
    "chatcentral_outbox_send_seconds",
    "Graph API call duration",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DISPATCHER_ERRORS = Counter(
    "chatcentral_dispatcher_errors_total",
    "Dispatcher database steps that failed (each is retried after a short pause)",
)
DISPATCHER_RESTARTS = Counter(
    "chatcentral_dispatcher_restarts_total",
    "Times the supervisor restarted a dispatcher that had ended or raised",
)
HANDOFF_RELAYED = Counter(
    "chatcentral_handoff_relayed_total",
    "Customer messages relayed to the shop's staff during a handoff, by kind",
    ["kind"],
)
HANDOFF_ANSWERS = Counter(
    "chatcentral_handoff_answers_total", "Staff answers relayed to a customer in a handoff"
)
HANDOFF_TIMEOUTS = Counter(
    "chatcentral_handoff_timeouts_total",
    "Handoffs whose customer was told nobody answered in time",
)
MEDIA_TRANSFERS = Counter(
    "chatcentral_media_transfers_total",
    "Inbound media downloaded and uploaded again to be relayed, by outcome",
    ["outcome"],
)

# The shop's side: news for a shop's admins (notifications/), the 24-hour window.
NOTIFICATIONS_FAILED = Counter(
    "chatcentral_notifications_failed_total",
    "News for a shop's admin (kind 'notification') that failed for good; the admin is "
    "told on their next message (staff.undelivered)",
    ["code"],
)
OUTBOX_TEMPLATE_FALLBACKS = Counter(
    "chatcentral_outbox_template_fallbacks_total",
    "Sends refused for a closed 24-hour window (131047) and sent again at once as their template",
    ["kind"],
)
REMINDERS_SENT = Counter(
    "chatcentral_reminders_sent_total", "Refill reminder templates queued for customers"
)
REMINDER_ERRORS = Counter(
    "chatcentral_reminder_errors_total",
    "Refill reminder passes (or one shop's part of a pass) that failed and were skipped",
)

# Inbound media kept by the worker (media/job.py).
MEDIA_DOWNLOADS = Counter(
    "chatcentral_media_downloads_total",
    "Tries at fetching and storing inbound media, by outcome (stored, retry, failed)",
    ["outcome"],
)
MEDIA_BYTES = Counter("chatcentral_media_stored_bytes_total", "Bytes of inbound media stored")
MEDIA_ERRORS = Counter(
    "chatcentral_media_job_errors_total",
    "Media job passes (or one shop's part of a pass) that failed and were skipped",
)

ALERTS = Counter(
    "chatcentral_alerts_total",
    "Incidents opened and resolved (one alert each: incidents/journal.py)",
    ["kind", "event"],
)
INCIDENTS_OPEN = Gauge("chatcentral_incidents_open", "Incidents this process knows open", ["kind"])
OUTBOX_DEPTH = Gauge("chatcentral_outbox_pending", "Outbox rows pending (all shops)")
OUTBOX_OLDEST_S = Gauge(
    "chatcentral_outbox_oldest_due_seconds",
    "How long the oldest sendable pending row has been due (0 when none)",
)
SENDS = Counter(
    "chatcentral_sends_total",
    "Graph API sends by outcome (accepted, retry, failed) and error code",
    ["outcome", "code"],
)
ORDERS_CREATED = Counter("chatcentral_orders_created_total", "Orders placed")
HANDOFFS_OPEN = Gauge("chatcentral_handoffs_open", "Handoffs open or claimed (all shops)")
