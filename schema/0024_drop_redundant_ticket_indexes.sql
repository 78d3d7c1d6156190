-- Four indexes on tickets that the 工单台账 indexes of 0007 already cover (each is a prefix of one
-- of them: a btree scans either direction, and id only widens the key).  Every one is written
-- on each ticket insert; dropping them makes a bulk import's merge ≈ 8 % cheaper
-- (bench/RESULTS.md "Ticket import", 2026-12-06).
--   tickets_called_at_idx   (called_at)                ⊂ tickets_ledger_order_idx      (called_at DESC, id DESC)
--   tickets_status_idx      (status)                   ⊂ tickets_ledger_status_idx     (status, called_at DESC, id DESC)
--   tickets_department_idx  (department_id, called_at) ⊂ tickets_ledger_department_idx (department_id, called_at DESC, id DESC)
--   tickets_community_idx   (community_id, called_at)  ⊂ tickets_ledger_community_idx  (community_id, called_at DESC, id DESC)
DROP INDEX IF EXISTS tickets_called_at_idx;
DROP INDEX IF EXISTS tickets_status_idx;
DROP INDEX IF EXISTS tickets_department_idx;
DROP INDEX IF EXISTS tickets_community_idx;
