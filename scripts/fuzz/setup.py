"""Seeds a running Cassa for the API fuzzer and prints the credentials as shell assignments.

Creates a store (USD) with an owner, a product, a customer with a storefront token and an
order, so that the fuzzer's requests reach real objects and not only 404s. Run by
scripts/fuzz-api; needs only the standard library.
"""

import json
import os
import shlex
import sys
import urllib.request
import uuid

BASE = os.environ["CASSA_URL"]


def call(method, path, token=None, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    if method != "GET":
        request.add_header("idempotency-key", str(uuid.uuid4()))
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        sys.exit(f"setup: {method} {path} answered {err.code}: {err.read().decode()}")


admin = call("POST", "/api/v1/auth/token", body={
    "email": os.environ["CASSA_ADMIN_EMAIL"], "password": os.environ["CASSA_ADMIN_PASSWORD"],
})["token"]
store = call("POST", "/api/v1/platform/stores", admin, {"name": "Fuzz shop", "currency": "USD"})
key = store["sandbox_secret_key"]
call("POST", f"/api/v1/platform/stores/{store['id']}/users", admin, {
    "email": "owner@fuzz.example", "role": "owner", "password": "fuzz-owner-password-1",
})
owner = call("POST", "/api/v1/auth/token", body={
    "email": "owner@fuzz.example", "password": "fuzz-owner-password-1",
})["token"]
call("POST", f"/api/v1/platform/stores/{store['id']}/users", admin, {
    "email": "password@fuzz.example", "role": "staff", "password": "fuzz-staff-password-1",
})
password_user = call("POST", "/api/v1/auth/token", body={
    "email": "password@fuzz.example", "password": "fuzz-staff-password-1",
})["token"]
product = call("POST", "/api/v1/admin/products", key, {
    "sku": "FUZZ-1", "name": "Fuzz mug", "unit_amount": 1500, "currency": "USD",
})
customer = call("POST", "/api/v1/admin/customers", key, {"name": "Fuzz customer"})
customer_token = call("POST", f"/api/v1/admin/customers/{customer['id']}/tokens", key, {})["token"]
address = {
    "name": "Ada Fuzz", "line1": "1 Main St", "city": "Austin", "subdivision": "TX",
    "postal_code": "78701", "country": "US",
}
order = call("POST", "/api/v1/me/orders", customer_token, {
    "items": [{"product_id": product["id"], "quantity": 2}], "shipping_address": address,
})

for name, value in {
    "FUZZ_ADMIN_TOKEN": admin,
    "FUZZ_OWNER_TOKEN": owner,
    "FUZZ_PASSWORD_USER_TOKEN": password_user,
    "FUZZ_STORE_ID": store["id"],
    "FUZZ_STORE_KEY": key,
    "FUZZ_CUSTOMER_TOKEN": customer_token,
    "FUZZ_ORDER_ID": order["id"],
}.items():
    print(f"export {name}={shlex.quote(value)}")
