-- villagecourt store, schema version 2: indexes for the county dashboard (relay/dashboard/).
-- A relay holds hundreds of thousands of cases; the dashboard's figures are GROUP BYs over
-- the projection. These covering indexes let them read index pages only (docs/dashboard.md,
-- "Benchmark": a village page went from ~4 s to milliseconds at 400 villages × 1,000 cases).
-- On a village node they cost a few bytes per case.

-- Per village and category: the overview's one scan, a village's figures and case list.
CREATE INDEX IF NOT EXISTS records_case_stats
    ON records(kind, village, category, created_at, status, outcome, closed_at);
-- Cases by registration time: the charts of counts per week or month.
CREATE INDEX IF NOT EXISTS records_kind_created ON records(kind, created_at, category, village);
-- Follow-up visits done in a period, with their satisfaction.
CREATE INDEX IF NOT EXISTS followups_done ON followups(done_date, month, satisfaction);
