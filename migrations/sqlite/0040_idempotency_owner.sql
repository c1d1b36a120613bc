-- Which request holds an in-flight key record: a token fresh per request, set by the claim
-- and by a stale lock's take-over. Completing or releasing the record requires it, so a slow
-- request whose lock was taken over can neither answer for the key nor free it while the
-- request that took it over still runs. NULL on rows claimed before this column existed: such a
-- row is only completed or released by a process of the previous version (a rolling deploy),
-- or taken over after the lock timeout, which sets the token.
ALTER TABLE idempotency_keys ADD COLUMN lock_token text;
