-- Version 5: a passed step whose state is gone (the check engine's `stale`: the
-- learner left the shell that held it, or has a fresh machine). The step stays
-- passed; this is what the board shows beside the pass until the state is back.
-- JSON object {"message": text or null, "messages": {lang: text} or null};
-- NULL when the state is there, on steps not passed, and on rows from before version 5.
ALTER TABLE step_results ADD COLUMN stale TEXT;
