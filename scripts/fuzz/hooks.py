"""Schemathesis hooks for scripts/fuzz-api (loaded through SCHEMATHESIS_HOOKS).

Credentials: each part of the API is called with the credential that can reach it (values from
scripts/fuzz/setup.py), through Schemathesis's auth providers, so that its checks of requests
without or with a wrong `Authorization` header still send exactly that.

Idempotency keys: the generator draws `Idempotency-Key` values from the header's schema, so two
different requests often share a key such as "0", and the server rightly refuses the second with
`idempotency_key_reused`. A storefront sends a fresh key per operation: a well-formed generated
key is replaced with a fresh one (a counter, so a seed still replays the same run), and a
malformed or missing one is left alone, so the refusals of bad keys stay under test.
"""

import itertools
import os
import re

import schemathesis

VISIBLE_ASCII = re.compile(r"^[\x21-\x7e]{1,255}$")
counter = itertools.count()


def bearer(variable, path_regex, extra=None):
    """Registers an auth provider sending `$variable` as a bearer token on matching paths."""

    class Bearer:
        def get(self, case, ctx):
            return os.environ[variable]

        def set(self, case, data, ctx):
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"
            case.headers.update(extra or {})

    Bearer.__name__ = f"Bearer_{variable}"
    schemathesis.auth().apply_to(path_regex=path_regex)(Bearer)


bearer("FUZZ_ADMIN_TOKEN", r"^/api/v1/platform/")
bearer("FUZZ_OWNER_TOKEN", r"^/api/v1/admin/(members|api-keys|payment-provider)",
       {"Cassa-Store": os.environ.get("FUZZ_STORE_ID", "")})
bearer("FUZZ_STORE_KEY", r"^/api/v1/admin/(?!members|api-keys|payment-provider)")
bearer("FUZZ_CUSTOMER_TOKEN", r"^/api/v1/me(/|$)")
# A user of its own: a password the fuzzer manages to change locks out nobody else.
bearer("FUZZ_PASSWORD_USER_TOKEN", r"^/api/v1/auth/password$")


@schemathesis.hook
def before_call(context, case, kwargs):
    for name in list(case.headers or {}):
        if name.lower() == "idempotency-key":
            value = case.headers[name]
            if isinstance(value, str) and VISIBLE_ASCII.match(value):
                case.headers[name] = f"fuzz-{next(counter)}"
