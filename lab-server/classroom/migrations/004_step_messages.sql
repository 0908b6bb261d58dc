-- Version 4: a step's check message in every language the lesson has.
-- The board shows each viewer the message in their own language (the instructor's,
-- not the learner's). JSON object, language -> text; NULL on rows written before
-- version 4 and for text a lesson does not translate: readers fall back to
-- `message`, the text in the learner's language.
ALTER TABLE step_results ADD COLUMN messages TEXT;
