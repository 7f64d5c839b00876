-- Hand-written. The read-back of a day's archive resumes as its writing does (docs/archive.md): each
-- object is marked once it was read back and checked, so a day too big for one call is checked over
-- several calls, never from the start again. A failed day's restart deletes its objects, marks and all.
ALTER TABLE archive_objects ADD COLUMN checked_at timestamptz;
--> statement-breakpoint
GRANT UPDATE (checked_at) ON archive_objects TO tillproof_app;
