-- When a delivery began: recorded before anything is posted, so that after a crash the earlier
-- post is looked for from then on (newest first), however many messages followed it.
ALTER TABLE jobs ADD COLUMN delivery_started_at DOUBLE PRECISION;
