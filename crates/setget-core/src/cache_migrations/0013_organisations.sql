-- The autonomous systems the cache has seen, with their organisations' names, on sessions and
-- on audit events alike: the pivot's search box finds an organisation by a part of its name
-- here (it looked in the sessions only, so the provider of an attack's failed sign-ins, which
-- leave no session, was found by its number alone). The writes add what each page brings;
-- what is cached already is read once, here.
CREATE TABLE autonomous_systems (
    asn INTEGER NOT NULL,
    as_org TEXT NOT NULL,
    PRIMARY KEY (asn, as_org)
) WITHOUT ROWID;
INSERT OR IGNORE INTO autonomous_systems (asn, as_org)
    SELECT asn, as_org FROM sessions WHERE asn IS NOT NULL AND as_org IS NOT NULL;
INSERT OR IGNORE INTO autonomous_systems (asn, as_org)
    SELECT asn, as_org FROM audit_events WHERE asn IS NOT NULL AND as_org IS NOT NULL;
