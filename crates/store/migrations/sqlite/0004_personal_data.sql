-- Personal data is sealed (see vault.rs); lookups go through keyed hashes.
ALTER TABLE tickets ADD COLUMN phone_hash TEXT;
ALTER TABLE cases ADD COLUMN applicant_id_hash TEXT;
ALTER TABLE cases ADD COLUMN applicant_phone_hash TEXT;
CREATE INDEX cases_applicant_id ON cases(applicant_id_hash);
CREATE INDEX cases_applicant_phone ON cases(applicant_phone_hash);
CREATE INDEX tickets_phone ON tickets(phone_hash);
