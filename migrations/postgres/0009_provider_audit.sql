-- Every outbound provider call: who, what, how long, what came back (bodies redacted of secrets;
-- API keys travel in headers, which are never stored).
CREATE TABLE provider_call_audit (
    id              uuid PRIMARY KEY,
    store_id        uuid,
    provider        text NOT NULL,
    operation       text NOT NULL,
    status_code     integer,
    outcome         text NOT NULL,
    latency_ms      integer NOT NULL,
    correlation_id  text NOT NULL,
    request_body    text NOT NULL,
    response_body   text NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX provider_call_audit_store ON provider_call_audit (store_id, id);
