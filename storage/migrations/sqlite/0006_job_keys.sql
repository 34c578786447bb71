-- The name of the DashScope key a job was staged and submitted with (never the key itself), so
-- that it is polled, canceled and reconciled with the same key. NULL in rows made before keys had
-- names: those belong to the first configured key.
ALTER TABLE jobs ADD COLUMN dashscope_key TEXT;
