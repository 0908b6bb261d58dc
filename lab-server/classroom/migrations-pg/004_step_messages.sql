-- Version 4: a step's check message in every language the lesson has (as
-- ../migrations/004). A JSON object, language -> text; NULL on rows written before
-- version 4 and for text a lesson does not translate. jsonb, so that the same map
-- in another key order is the same value (recordSteps writes only changes).
ALTER TABLE step_results ADD COLUMN messages jsonb;
