-- Who schedules, and since when: the scheduler role's term. Winning the role adds one to
-- `generation` in the transaction that takes over; every write the scheduler makes about a job
-- first checks that its generation is still the current one, so a deposed scheduler's writes are
-- refused at once. The holder renews `expires_at` (the database's clock) while it lives; a term
-- that lapsed tells a standby that its holder went silent.
CREATE TABLE leadership (
    role TEXT PRIMARY KEY,
    generation BIGINT NOT NULL,
    holder TEXT NOT NULL,           -- the process (host:pid:token), for the operator's log
    holder_session INTEGER,         -- PostgreSQL: the backend pid of the holder's lock connection
    expires_at DOUBLE PRECISION NOT NULL
);
-- When a submit gave up waiting for a clear answer: the task it may have made was created, if at
-- all, between submit_started_at and then (give or take the clocks' skew). NULL while a submit is
-- under way or was never unclear: a takeover then waits out the submit's whole deadline.
ALTER TABLE jobs ADD COLUMN submit_gave_up_at DOUBLE PRECISION;
