-- run by `handoff sql` when a session opens
SET TimeZone = 'UTC';
