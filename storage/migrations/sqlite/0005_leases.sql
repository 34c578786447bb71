-- Several processes: a delivery is carried by the process holding its lease (renewed while it
-- works; another takes it over once it lapses), and a cancel asked for on any process waits
-- here until the scheduler acts on it.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_expires_at REAL;
ALTER TABLE jobs ADD COLUMN cancel_requested_at REAL;
CREATE INDEX jobs_by_lease ON jobs (state, lease_expires_at);
