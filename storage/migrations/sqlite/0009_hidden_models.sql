-- Models a server's moderators chose not to offer there (/videoadmin settings models): a JSON
-- list of model names; empty: every model the bot offers.
ALTER TABLE guild_settings ADD COLUMN hidden_models TEXT NOT NULL DEFAULT '[]';
