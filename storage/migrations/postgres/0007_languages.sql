-- Languages. A job keeps, from when it was asked, the language of its server-wide messages (the
-- status message, the posted video: the server's chosen language, else Discord's guild locale)
-- and the member's own (for a DM), so every process words it the same way; and, when it ended
-- without a video, the reason as a message not yet in any language (JSON: msgid and values).
ALTER TABLE jobs ADD COLUMN locale TEXT;
ALTER TABLE jobs ADD COLUMN member_locale TEXT;
ALTER TABLE jobs ADD COLUMN reason_json TEXT;
-- A moderator's choice of language for the server's messages (NULL: Discord's guild locale).
ALTER TABLE guild_settings ADD COLUMN language TEXT;
