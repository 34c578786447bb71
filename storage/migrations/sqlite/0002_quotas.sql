-- Quotas: seconds of output video per user per period, managed by moderators.
-- guild_id 0 stands for "no server" (DMs, the headless CLI). Grants and resets are not kept
-- apart from the ledger: the ledger is append-only and is their record.

-- A guild's settings; a guild without a row uses the bot's configured defaults.
CREATE TABLE quota_guilds (
    guild_id INTEGER PRIMARY KEY,
    default_seconds INTEGER NOT NULL CHECK (default_seconds >= 0),
    period TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')),
    budget_seconds INTEGER CHECK (budget_seconds IS NULL OR budget_seconds >= 0),
    updated_at REAL NOT NULL
);

-- The allowance a role gives; a member gets the most generous of these and the guild default.
CREATE TABLE quota_role_defaults (
    guild_id INTEGER NOT NULL,
    role_id INTEGER NOT NULL,
    seconds INTEGER NOT NULL CHECK (seconds >= 0),
    updated_at REAL NOT NULL,
    PRIMARY KEY (guild_id, role_id)
);

-- Per-member decisions: an override (beats every default) and a block.
CREATE TABLE quota_members (
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    override_seconds INTEGER CHECK (override_seconds IS NULL OR override_seconds >= 0),
    blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1)),
    block_reason TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

-- One reservation per job: held until the first of commit or refund settles it.
CREATE TABLE quota_reservations (
    job_id INTEGER PRIMARY KEY REFERENCES jobs (id),
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    reserved_seconds INTEGER NOT NULL CHECK (reserved_seconds > 0),
    billed_seconds INTEGER CHECK (billed_seconds IS NULL OR billed_seconds >= 0),
    state TEXT NOT NULL CHECK (state IN ('held', 'committed', 'refunded')),
    exempt INTEGER NOT NULL DEFAULT 0 CHECK (exempt IN (0, 1)),
    reserved_at REAL NOT NULL,      -- decides the period the seconds count against
    settled_at REAL,
    settle_reason TEXT              -- why it was refunded; copied to the ledger
);
-- Covering indexes: every reserve sums a member's and a guild's seconds for the period.
CREATE INDEX quota_reservations_by_member ON quota_reservations (
    guild_id, user_id, reserved_at, state, exempt, reserved_seconds, billed_seconds);
CREATE INDEX quota_reservations_by_guild ON quota_reservations (
    guild_id, reserved_at, state, exempt, reserved_seconds, billed_seconds, user_id);

-- Every change, one row each. seconds: +reserved (reserve), billed (commit), -reserved (refund),
-- +granted (grant), -forgiven (reset), the new value (set_*; 0 when removed, see reason).
CREATE TABLE quota_ledger (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    guild_id INTEGER NOT NULL,
    user_id INTEGER,
    job_id INTEGER REFERENCES jobs (id),
    kind TEXT NOT NULL CHECK (kind IN (
        'reserve', 'commit', 'refund', 'grant', 'reset', 'set_default', 'set_role',
        'set_override', 'block', 'unblock', 'set_budget')),
    seconds INTEGER NOT NULL DEFAULT 0,
    actor_id INTEGER,               -- the moderator; NULL for the system
    reason TEXT
);
CREATE INDEX quota_ledger_by_guild ON quota_ledger (guild_id, id);
CREATE INDEX quota_ledger_by_member ON quota_ledger (guild_id, user_id, id);
-- Grants and resets of the current period, summed on every reserve.
CREATE INDEX quota_ledger_by_kind ON quota_ledger (guild_id, kind, at, user_id, seconds);

-- A reservation writes its own ledger rows, so no code path can reserve, commit or refund without
-- one (and it saves the engine's transaction a round trip to aiosqlite's thread per change).
CREATE TRIGGER quota_reservations_ledger_reserve AFTER INSERT ON quota_reservations
BEGIN
    INSERT INTO quota_ledger (at, guild_id, user_id, job_id, kind, seconds, reason)
    VALUES (NEW.reserved_at, NEW.guild_id, NEW.user_id, NEW.job_id, 'reserve',
            NEW.reserved_seconds, CASE WHEN NEW.exempt THEN 'exempt' END);
END;

CREATE TRIGGER quota_reservations_ledger_settle AFTER UPDATE OF state ON quota_reservations
WHEN OLD.state = 'held' AND NEW.state IN ('committed', 'refunded')
BEGIN
    INSERT INTO quota_ledger (at, guild_id, user_id, job_id, kind, seconds, reason)
    VALUES (NEW.settled_at, NEW.guild_id, NEW.user_id, NEW.job_id,
            CASE NEW.state WHEN 'committed' THEN 'commit' ELSE 'refund' END,
            CASE NEW.state WHEN 'committed' THEN NEW.billed_seconds
                           ELSE -NEW.reserved_seconds END,
            CASE NEW.state WHEN 'committed' THEN NEW.reserved_seconds || ' s reserved'
                           ELSE NEW.settle_reason END);
END;

-- Settled is final: whichever of commit and refund came first stands.
CREATE TRIGGER quota_reservations_settle_once BEFORE UPDATE ON quota_reservations
WHEN OLD.state <> 'held'
BEGIN
    SELECT RAISE(ABORT, 'a settled quota reservation cannot change');
END;
