-- Each case row (about 1.5 KB) is updated about six times in its life. With pages packed full, an
-- update finds no room beside the old row and goes to another page, writing every one of the
-- table's nine index entries again (a non-HOT update). Leaving room on each page lets most updates,
-- which change no indexed column, stay on their page and touch no index (HOT).
ALTER TABLE cases SET (fillfactor = 70);
