-- Jobs: one row per requested video; every state change is one transaction with its time.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN (
        'queued', 'submitting', 'pending', 'running', 'downloading', 'delivering',
        'delivered', 'failed', 'canceled', 'expired')),
    guild_id INTEGER,               -- NULL outside a server (CLI, DMs)
    channel_id INTEGER,
    user_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    resolution TEXT NOT NULL,
    duration INTEGER NOT NULL,
    request_json TEXT NOT NULL,     -- the staged GenerationRequest (inputs as oss:// or http URLs)
    dedup_key TEXT,                 -- hash of input bytes + parameters, when the seed is fixed
    reserved_seconds INTEGER NOT NULL DEFAULT 0,
    billed_seconds INTEGER,         -- from the provider's usage block on success
    task_id TEXT UNIQUE,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,           -- a queued job waits until then after a 429
    result_url TEXT,
    result_expires_at REAL,
    reused_job_id INTEGER REFERENCES jobs (id),
    filesize_limit INTEGER,         -- the upload limit where it will be delivered, in bytes
    error_code TEXT,
    error_message TEXT,
    delivered_message_id INTEGER,
    progress_message_id INTEGER,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    submit_started_at REAL,         -- when the create-task POST was sent (for restart reconciliation)
    submitted_at REAL,              -- when the provider accepted it
    provider_finished_at REAL,      -- when the provider says the task ended
    finished_at REAL                -- when the job reached a final state
);

CREATE INDEX jobs_by_state ON jobs (state, model);
CREATE INDEX jobs_by_user ON jobs (guild_id, user_id, created_at);
CREATE INDEX jobs_by_dedup ON jobs (dedup_key) WHERE dedup_key IS NOT NULL;

-- The history of each job: one row per state change.
CREATE TABLE job_events (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs (id),
    at REAL NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX job_events_by_job ON job_events (job_id, id);

-- The evidence: every provider response for the job, as received.
CREATE TABLE job_responses (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs (id),
    at REAL NOT NULL,
    call TEXT NOT NULL,             -- submit | query | cancel | list
    body_json TEXT NOT NULL
);
CREATE INDEX job_responses_by_job ON job_responses (job_id, id);

-- Finished provider times per kind of job, to learn how long the next one will take.
CREATE TABLE task_durations (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    resolution TEXT NOT NULL,
    duration INTEGER NOT NULL,
    seconds REAL NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX task_durations_by_kind ON task_durations (model, resolution, duration, id);
