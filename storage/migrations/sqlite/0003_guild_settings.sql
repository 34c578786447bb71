-- What moderators set for their server: where videos may be made and with what limits.
CREATE TABLE guild_settings (
    guild_id INTEGER PRIMARY KEY,
    allowed_channels TEXT NOT NULL DEFAULT '[]',   -- JSON list of channel ids; empty: everywhere
    banned_words TEXT NOT NULL DEFAULT '[]',       -- JSON list, matched case-insensitively as words
    default_model TEXT,
    default_resolution TEXT,
    force_watermark INTEGER NOT NULL DEFAULT 0,
    max_duration INTEGER,                          -- seconds; NULL: the model's own limit
    moderator_role_id INTEGER,                     -- besides Manage Server
    updated_at REAL,
    updated_by INTEGER
);
