-- Where the provider sends the customer back after a challenge (3-D Secure), as the storefront
-- asked when it authorized: kept so that a resend of the authorization is the same request.
ALTER TABLE payment_intents ADD COLUMN return_url text
    CHECK (return_url IS NULL OR length(return_url) BETWEEN 1 AND 2048);
