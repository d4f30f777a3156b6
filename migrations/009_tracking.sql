-- Open and click tracking (the README's "Tracking"). A workspace chooses whether its emails are tracked when a
-- send does not say; each email keeps what was decided, the original URLs of its rewritten links and its counts.

ALTER TABLE workspaces
  ADD COLUMN track_opens_default boolean NOT NULL DEFAULT true,
  ADD COLUMN track_clicks_default boolean NOT NULL DEFAULT true;

-- Emails accepted before tracking existed were not tracked: the new flags default to false for them.
ALTER TABLE messages
  ADD COLUMN track_opens boolean NOT NULL DEFAULT false,
  ADD COLUMN track_clicks boolean NOT NULL DEFAULT false,
  -- the rewritten links' original URLs, by link index (a /t/c/ token signs the email id and the index)
  ADD COLUMN tracked_links jsonb,
  -- the first open and click by a person (not a bot), and how many of each; bots are counted apart
  ADD COLUMN opened_at timestamptz,
  ADD COLUMN clicked_at timestamptz,
  ADD COLUMN open_count integer NOT NULL DEFAULT 0,
  ADD COLUMN click_count integer NOT NULL DEFAULT 0,
  ADD COLUMN bot_open_count integer NOT NULL DEFAULT 0,
  ADD COLUMN bot_click_count integer NOT NULL DEFAULT 0;
