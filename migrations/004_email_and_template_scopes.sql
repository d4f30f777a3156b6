-- Reading emails and changing templates became privileges of their own (scopes `emails:read` and
-- `templates:manage`). Admin keys that held every scope before keep doing everything; keys made with a narrower
-- set of scopes lose access to email content and templates, which is the point.

UPDATE api_keys
   SET scopes = scopes || ARRAY['emails:read', 'templates:manage']
 WHERE kind = 'admin'
   AND scopes @> ARRAY['contacts:read', 'contacts:write', 'audiences:manage', 'automations:read', 'automations:write',
                       'automations:trigger', 'domains:manage', 'api-keys:create']
   AND NOT scopes @> ARRAY['emails:read'];
