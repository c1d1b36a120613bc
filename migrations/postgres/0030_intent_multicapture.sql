-- The provider said, when it authorized, that this authorization may be captured more than
-- once (Stripe's multicapture, where the card allows it): captures then keep the rest held
-- until a void releases it, instead of the provider releasing it with the first capture.
ALTER TABLE payment_intents ADD COLUMN multicapture boolean NOT NULL DEFAULT false;
