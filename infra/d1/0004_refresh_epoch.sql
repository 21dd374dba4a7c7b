-- Refresh-token families end with "sign out everywhere": each token carries the user's
-- session epoch at the family's start, compared with the user's current one on refresh.
-- Tokens issued before this column existed count as epoch 0.
ALTER TABLE refresh_tokens ADD COLUMN user_epoch INTEGER NOT NULL DEFAULT 0;
