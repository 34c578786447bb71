-- A posted video its requester (or a moderator) deleted: the job stays, with its ledger rows
-- (the video was made, so its seconds stay counted); these say when, and by whom (a Discord user
-- id). NULL while the video is still up.
ALTER TABLE jobs ADD COLUMN deleted_at REAL;
ALTER TABLE jobs ADD COLUMN deleted_by INTEGER;
