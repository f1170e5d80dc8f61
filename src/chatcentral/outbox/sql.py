"""The dispatcher's SQL, built once with bind parameters: claiming rows, recording each
send's outcome under its lease, the message rows it updates, purging, and the next due
time. Tenant tables are unqualified; the caller's connection carries the shop's map."""

from __future__ import annotations

from sqlalchemy import Integer, Text, bindparam, func, text, update
from sqlalchemy.dialects.postgresql import JSONB

from chatcentral.models.tenant import Message

# "The lowest pending id of each (shop, recipient)", walked oldest first: pending rows in
# id order (ix_outbox_pending_id), each kept only if it heads its customer's queue (one
# probe of ix_outbox_pending_recipient for the queue's min id) and is due. It stops at
# `limit` heads, so its cost follows the rows it passes over, not the pending backlog.
CLAIM = text(
    """
    WITH due AS (
        SELECT o.id FROM central.outbox o
        WHERE o.status = 'pending' AND o.due_at <= now()
          AND o.tenant_id <> ALL(CAST(:full AS bigint[]))
          AND o.id = (SELECT min(p.id) FROM central.outbox p
                    WHERE p.status = 'pending' AND p.tenant_id = o.tenant_id
                      AND p.recipient = o.recipient)
        ORDER BY o.id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED)
    UPDATE central.outbox o SET due_at = now() + make_interval(secs => :lease)
    FROM due, central.tenants t
    WHERE o.id = due.id AND t.id = o.tenant_id
    RETURNING o.id, o.tenant_id, o.kind, o.recipient, o.payload, o.message_id, o.attempts,
              t.schema_name, t.phone_number_id, t.access_token_encrypted, t.slug, o.due_at,
              o.fallback, o.mark_read_wamid,
              CASE WHEN jsonb_typeof(t.settings -> 'throughput_mps') = 'number'
                   THEN (t.settings ->> 'throughput_mps')::float8 END
    """
)
# A claimed row its number's pace would keep waiting past its lease: back in the queue.
RELEASE = text(
    """
    UPDATE central.outbox SET due_at = now() + make_interval(secs => :delay)
    WHERE id = :id AND status = 'pending' AND due_at = :lease
    """
)
# The three ways a send ends. Each only touches a row still pending under the lease that
# sent it (RETURNING tells whether it did).
MARK_SENT = text(
    """
    UPDATE central.outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1
    WHERE id = :id AND status = 'pending' AND due_at = :lease RETURNING id
    """
)
MARK_RETRY = text(
    """
    UPDATE central.outbox
    SET attempts = attempts + 1, due_at = now() + make_interval(secs => :delay),
        last_error = :error, error_code = :code
    WHERE id = :id AND status = 'pending' AND due_at = :lease RETURNING id
    """
)
MARK_FAILED = text(
    """
    UPDATE central.outbox
    SET status = 'failed', attempts = attempts + 1, last_error = :error, error_code = :code
    WHERE id = :id AND status = 'pending' AND due_at = :lease RETURNING id
    """
)
# Meta refused the payload for a closed 24-hour window (131047): its fallback (the same
# news as a template) takes its place, due at once; not an attempt, the row goes on.
SWAP_FALLBACK = text(
    """
    UPDATE central.outbox
    SET payload = fallback, fallback = NULL, due_at = now(), last_error = :error,
        error_code = :code
    WHERE id = :id AND status = 'pending' AND due_at = :lease AND fallback IS NOT NULL
    RETURNING id
    """
)
# A reply failed for good: the customer's message it answered is not marked read. The
# mark-read rides on the last reply to that message (`mark_read_wamid`), the next one in
# the queue carrying one (or, queued before c0005, a `mark_read` row: cancelled).
DROP_NEXT_MARK_READ = text(
    """
    WITH next AS (
        SELECT n.id, n.kind FROM central.outbox n JOIN central.outbox f ON f.id = :id
        WHERE n.status = 'pending' AND n.tenant_id = f.tenant_id
          AND n.recipient = f.recipient AND n.id > f.id
          AND (n.mark_read_wamid IS NOT NULL OR n.kind = 'mark_read')
        ORDER BY n.id LIMIT 1)
    UPDATE central.outbox o
    SET mark_read_wamid = NULL,
        status = CASE WHEN next.kind = 'mark_read' THEN 'cancelled' ELSE o.status END
    FROM next WHERE o.id = next.id
    """
)
# The tenant's outbound message row, built once (bind parameters, not per-row literals).
MESSAGE_REPLACED = (
    update(Message)
    .where(Message.id == bindparam("out_id"))
    .values(
        type=bindparam("out_type", type_=Text),
        body=bindparam("out_body", type_=JSONB),
        status_updated_at=func.now(),
    )
)
MESSAGE_FAILED = (
    update(Message)
    .where(Message.id == bindparam("out_id"))
    .values(
        status="failed",
        error_code=bindparam("out_code", type_=Integer),
        status_updated_at=func.now(),
    )
)
# Sent and cancelled calls are kept a while for inspection, then deleted in slices so a
# purge never holds many locks; failed ones stay until an operator looks at them.
PURGE = text(
    """
    DELETE FROM central.outbox WHERE id IN (
        SELECT id FROM central.outbox
        WHERE status IN ('sent', 'cancelled') AND created_at < now() - make_interval(days => :days)
        LIMIT 5000)
    """
)
# When the next head of a queue is due (rows waiting behind an earlier row of the same
# customer are not: that row's own due time or outcome decides when they move).
NEXT_DUE = text(
    """
    SELECT EXTRACT(EPOCH FROM o.due_at - now()) FROM central.outbox o
    WHERE o.status = 'pending'
      AND o.id = (SELECT min(p.id) FROM central.outbox p
            WHERE p.status = 'pending' AND p.tenant_id = o.tenant_id
              AND p.recipient = o.recipient)
    ORDER BY o.due_at
    LIMIT 1
    """
)
# Is a row that could be sent now (due, first in its customer's queue) waiting longer than
# `max_age` seconds? Rows held back behind a customer's earlier reply in backoff do not
# count. The partial index on pending due_at keeps it to the few rows overdue by more than
# the limit. (/readyz, and the watch with 0 for the oldest sendable row's age.)
OVERDUE = text(
    """
    SELECT EXTRACT(EPOCH FROM now() - o.due_at)::float8 FROM central.outbox o
    WHERE o.status = 'pending' AND o.due_at < now() - make_interval(secs => :max_age)
      AND NOT EXISTS (
        SELECT 1 FROM central.outbox p
        WHERE p.status = 'pending' AND p.tenant_id = o.tenant_id
          AND p.recipient = o.recipient AND p.id < o.id)
    ORDER BY o.due_at
    LIMIT 1
    """
)
PENDING = text("SELECT count(*) FROM central.outbox WHERE status = 'pending'")
