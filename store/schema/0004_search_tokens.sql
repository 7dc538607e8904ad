-- villagecourt store, schema version 4: no personal data in the search index (issue #12).
-- Until now records.search held party names and whatever phones and ID numbers were typed
-- into free text, in plain text, and records.title the title as typed. From this version
-- they hold the text with personal spans taken out, and records.tokens keyed hashes of the
-- names, phones and ID numbers (store/projection.py). The old text is wiped here, in the
-- same transaction as the version bump, with secure_delete on so the freed bytes are
-- zeroed; Store.open then projects every record again from its sealed document (it needs
-- the key) and drops the 'reproject' mark when done (an interrupted run goes on at the
-- next open from meta 'reproject_after').
PRAGMA secure_delete = ON;
ALTER TABLE records ADD COLUMN tokens TEXT NOT NULL DEFAULT '';
UPDATE records SET search = '', title = NULL WHERE kind != 'village';
INSERT OR REPLACE INTO meta(key, value) VALUES('reproject', 'search-tokens');
DELETE FROM meta WHERE key = 'reproject_after';
