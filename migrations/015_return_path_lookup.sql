-- The inbound listener asks at every RCPT TO whether the domain is a verified MAIL FROM domain of ours
-- (DomainService.isReturnPathDomain): an index, so a flood of recipients from strangers costs a probe each, not a
-- scan of every domain.
CREATE INDEX domains_mail_from_domain_idx ON domains (mail_from_domain) WHERE deleted_at IS NULL;
