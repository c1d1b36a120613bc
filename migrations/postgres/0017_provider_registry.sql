-- Payment providers come from the server's registry: the database no longer lists them (a
-- provider the server does not register is refused by the API before anything is stored).
ALTER TABLE provider_credentials DROP CONSTRAINT provider_credentials_provider_check;
ALTER TABLE provider_credentials ADD CONSTRAINT provider_credentials_provider_check
    CHECK (length(provider) BETWEEN 1 AND 64);
