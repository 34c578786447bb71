-- A member's own defaults in one server (/video settings): NULL means "not set" (the server's
-- default, else the model's); private: 1 when they want their videos by DM.
CREATE TABLE member_settings (
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    model TEXT,
    resolution TEXT,
    duration INTEGER,
    private INTEGER NOT NULL DEFAULT 0,
    updated_at REAL,
    PRIMARY KEY (guild_id, user_id)
);
-- Whether the server's members may have their videos by DM (/videoadmin settings private_mode).
ALTER TABLE guild_settings ADD COLUMN private_mode INTEGER NOT NULL DEFAULT 0;
-- A job in private mode: its status and video go to the requester's DM (kept as asked).
ALTER TABLE jobs ADD COLUMN by_dm INTEGER NOT NULL DEFAULT 0;
