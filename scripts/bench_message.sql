-- One steady-state message's SQL, as chatcentral run executed it (captured with
-- log_statement = all on a2a5ab5), for pgbench: scripts/bench_messages.py fills in the shop's
-- schema ($s), its tenant id, the number of customers and a reply body.
\set c random(1, $customers)
BEGIN;
UPDATE $s.customers SET wa_id = CASE WHEN ($s.customers.wa_id IS NULL AND :w::varchar IS NOT NULL AND NOT (EXISTS (SELECT * FROM $s.customers AS other WHERE other.wa_id = :w::varchar))) THEN :w::varchar ELSE $s.customers.wa_id END, bsuid = CASE WHEN ($s.customers.bsuid IS NULL AND NULL::varchar IS NOT NULL) THEN NULL::varchar ELSE $s.customers.bsuid END, name = coalesce('Cliente'::varchar, $s.customers.name), last_inbound_at = now() WHERE $s.customers.bsuid = NULL::varchar OR $s.customers.wa_id = :w::varchar RETURNING $s.customers.id AS cid, $s.customers.bsuid \gset
INSERT INTO $s.messages (customer_id, direction, wamid, type, body, status, sent_at) VALUES (:cid, 'in', 'wamid.PGB' || gen_random_uuid()::text, 'text', '{"id": "wamid.X", "from": "525500000000", "text": {"body": "menú"}, "type": "text", "timestamp": "1760000000"}'::jsonb, 'received', now()) ON CONFLICT (wamid) DO NOTHING RETURNING $s.messages.id;
SELECT id AS sid, state, context, last_message_at, expires_at FROM $s.customer_sessions WHERE customer_id = :cid FOR UPDATE \gset
SELECT name, jugs_held FROM $s.customers WHERE id = :cid;
SELECT id, address_text, postal_code, latitude, longitude FROM $s.customer_addresses WHERE customer_id = :cid ORDER BY last_used_at DESC LIMIT 5;
SELECT o.id, o.created_at, st.name, o.status_changed_at, o.total, o.fulfillment FROM $s.orders o JOIN $s.order_status st ON st.id = o.status_id WHERE o.customer_id = :cid ORDER BY o.id DESC LIMIT 1;
WITH reply AS (INSERT INTO $s.messages (customer_id, direction, type, body, status, handoff_id) VALUES (:cid, 'out', 'interactive', '$reply'::jsonb, 'queued', NULL) RETURNING $s.messages.id) INSERT INTO central.outbox (tenant_id, kind, recipient, payload, message_id) SELECT $tenant, 'message', '525500000000', '$reply'::jsonb, reply.id FROM reply;
INSERT INTO central.outbox (tenant_id, kind, recipient, payload) VALUES ($tenant, 'mark_read', '525500000000', '{"status": "read", "message_id": "wamid.X", "messaging_product": "whatsapp"}'::jsonb) RETURNING id;
UPDATE $s.customer_sessions SET state = 'main_menu', context = '{"page": 0, "misses": 0}'::jsonb, version = version + 1, last_message_at = greatest(last_message_at, now()), updated_at = now(), expires_at = now() + interval '30 minutes' WHERE id = :sid;
COMMIT;
