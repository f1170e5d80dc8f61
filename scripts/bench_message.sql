-- One steady-state message's SQL, as chatcentral run executes it (inbound/sessions.py OPEN,
-- inbound/facts_loader.py, outbox/enqueue.py QUEUE_REPLY, SAVE, COUNT_MESSAGE), for
-- pgbench: scripts/bench_messages.py fills in the shop's schema ($s), its tenant id, the
-- number of customers and a reply body. A "menú" answered with the main menu: the
-- customer's facts are read (their last order is offered again).
\set c random(1, $customers)
BEGIN;
SELECT set_config('search_path', '$s', true);
WITH chosen AS (SELECT id FROM customers WHERE bsuid = NULL::text OR wa_id = :w::text ORDER BY (bsuid IS NOT NULL AND bsuid = NULL::text) DESC, id LIMIT 1), recorded AS (INSERT INTO messages (customer_id, direction, wamid, type, body, status, sent_at) SELECT id, 'in', 'wamid.PGB' || gen_random_uuid()::text, 'text', '{"id": "wamid.X", "from": "525500000000", "text": {"body": "menú"}, "type": "text", "timestamp": "1760000000"}'::jsonb, 'received', now() FROM chosen ON CONFLICT (wamid) DO NOTHING RETURNING id, customer_id), touched AS (UPDATE customers c SET last_inbound_at = now(), name = coalesce('Cliente'::text, c.name), bsuid = c.bsuid, wa_id = CASE WHEN c.wa_id IS NULL AND :w::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers o WHERE o.wa_id = :w::text) THEN :w::text ELSE c.wa_id END FROM recorded WHERE c.id = recorded.customer_id RETURNING c.id), session AS (SELECT s.id, s.state, s.context, s.last_message_at, s.expires_at, s.window_started_at, s.window_count, s.window_noticed FROM customer_sessions s JOIN recorded r ON s.customer_id = r.customer_id FOR UPDATE OF s) SELECT (SELECT id FROM chosen) AS cid, (SELECT id FROM recorded) AS mid, coalesce((SELECT inbound_messages FROM central.monthly_usage WHERE tenant_id = $tenant AND month = date_trunc('month', now())::date), 0) AS used, s.id AS sid FROM (SELECT 1) AS one LEFT JOIN session s ON true \gset
SELECT name, jugs_held FROM customers WHERE id = :cid;
SELECT id, address_text, postal_code, latitude, longitude FROM customer_addresses WHERE customer_id = :cid ORDER BY last_used_at DESC LIMIT 5;
SELECT o.id, o.created_at, s.name, o.status_changed_at, o.total, o.fulfillment FROM orders o JOIN order_status s ON s.id = o.status_id WHERE o.customer_id = :cid ORDER BY o.id DESC LIMIT 1;
SELECT order_id, product_id, product_name, unit, quantity, unit_price FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE customer_id = :cid ORDER BY id DESC LIMIT 1) ORDER BY id;
WITH reply AS (INSERT INTO messages (customer_id, direction, type, body, status) VALUES (:cid, 'out', 'interactive', '$reply'::jsonb, 'queued') RETURNING id) INSERT INTO central.outbox (tenant_id, kind, recipient, payload, message_id, mark_read_wamid) SELECT $tenant, 'message', '525500000000', '$reply'::jsonb, reply.id, 'wamid.X' FROM reply;
UPDATE customer_sessions SET state = 'main_menu', context = '{"page": 0, "misses": 0}'::jsonb, version = version + 1, last_message_at = greatest(last_message_at, now()), updated_at = now(), expires_at = now() + interval '30 minutes', window_started_at = now(), window_count = 1, window_noticed = false WHERE id = :sid;
INSERT INTO central.monthly_usage (tenant_id, month, inbound_messages) VALUES ($tenant, date_trunc('month', now())::date, 1) ON CONFLICT (tenant_id, month) DO UPDATE SET inbound_messages = central.monthly_usage.inbound_messages + 1;
COMMIT;
