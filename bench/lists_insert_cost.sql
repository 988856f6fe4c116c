-- What the order list's search indexes (migration 0017) cost an order insert (issue 21).
-- Run on the large bench database; everything is rolled back. Compare the two INSERT times.
--   psql -h 127.0.0.1 -U postgres trepstar_bench_lists -f bench/lists_insert_cost.sql
\timing on
BEGIN;
INSERT INTO fulfillment_order (source, external_order_id, ship_name, ship_street, ship_city, ship_state, ship_postal_code, ship_country, ship_country_code, customer_email, customer_phone, cost, status, hold_reason, is_test, cart_refunded, tracking_number, carrier, created_at, updated_at, publisher_id, box_number, split_reason, cart_address_key, found_by)
SELECT 'samcart', (50000000+g)::text, 'Ins Reader ' || g, '1 Road', 'X', 'IL', '1', 'US', 'US', 'ins' || g || '@example.com', '', 11.45, 'in_production', '', false, false, '', '', now(), now(), 1, 1, '', '', 'notify' FROM generate_series(1, 20000) g;
ROLLBACK;
BEGIN;
DROP INDEX order_name_trgm; DROP INDEX order_email_trgm; DROP INDEX order_cart_id_trgm;
INSERT INTO fulfillment_order (source, external_order_id, ship_name, ship_street, ship_city, ship_state, ship_postal_code, ship_country, ship_country_code, customer_email, customer_phone, cost, status, hold_reason, is_test, cart_refunded, tracking_number, carrier, created_at, updated_at, publisher_id, box_number, split_reason, cart_address_key, found_by)
SELECT 'samcart', (50000000+g)::text, 'Ins Reader ' || g, '1 Road', 'X', 'IL', '1', 'US', 'US', 'ins' || g || '@example.com', '', 11.45, 'in_production', '', false, false, '', '', now(), now(), 1, 1, '', '', 'notify' FROM generate_series(1, 20000) g;
ROLLBACK;
