-- Text search over the session list (member email, IP, device, city): an FTS5 index with
-- the trigram tokenizer, so that any substring of three or more characters is found through
-- the index. Its rows are the `sessions` rows (external content); the triggers that keep it
-- in step are created by the code with the other indexes (cache.rs), so that a big first
-- sync can fill `sessions` without them and rebuild this index once.
CREATE VIRTUAL TABLE sessions_search USING fts5(
    member_email, ip, device, city,
    content = 'sessions', content_rowid = 'rowid', tokenize = 'trigram'
);
