"""Local fake servers for the systems Tally pushes to, on 127.0.0.1 (pytest-httpserver).

Each fake answers the subset of its system's API the push layer uses, in the system's own
shapes, keeps what was created, and behaves like the real system on repeated requests:
Stripe, Adyen and Xero replay the first answer to an Idempotency-Key, GoCardless answers
409 idempotent_creation_conflict with the conflicting resource (the SDK then fetches it),
NetSuite upserts on the external id, HubSpot upserts on the unique property. Every request
is recorded (method, path, headers, body) for the tests to check.

`Faults` makes a share of the requests fail: before the system acts (5xx, 429, or no answer
within the client's timeout) or after it acted (a 5xx, or a timeout, for a request whose
object was created): the case only idempotency keys make safe.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tally.push.netsuite import oauth1_header

FAULT_KINDS = ("before_500", "before_503", "before_429", "before_timeout", "after_500", "after_timeout")


@dataclass
class Faults:
    rate: float = 0.0
    seed: int = 7
    timeout: float = 0.6            # how long a "timeout" keeps the client waiting (> the client's timeout)
    kinds: tuple[str, ...] = FAULT_KINDS

    def __post_init__(self):
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self.injected: list[str] = []

    def draw(self) -> str | None:
        with self._lock:
            if self.rate and self._random.random() < self.rate:
                kind = self._random.choice(self.kinds)
                self.injected.append(kind)
                return kind
        return None


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    fault: str | None = None

    @property
    def json(self):
        return json.loads(self.body) if self.body else None

    @property
    def form(self) -> dict:
        return dict(parse_qsl(self.body.decode()))


class Fake:
    """One system on its own port."""

    name = "fake"

    def __init__(self, faults: Faults | None = None):
        self.faults = faults or Faults()
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)
        self.server.start()
        self.requests: list[Recorded] = []
        self.objects: dict[str, dict[str, dict]] = {}
        self.reflect_credentials = False   # answer 401 quoting the credentials it received
        self._idempotent: dict[str, tuple[int, dict, dict]] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def stop(self):
        self.server.clear()
        if self.server.is_running():
            self.server.stop()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    def store(self, kind: str) -> dict[str, dict]:
        return self.objects.setdefault(kind, {})

    # -- the request cycle ----------------------------------------------------------------
    def _handle(self, request: Request) -> Response:
        rec = Recorded(request.method, request.path, dict(request.args), dict(request.headers), request.get_data())
        with self._lock:
            self.requests.append(rec)
        if self.reflect_credentials:
            creds = request.headers.get("Authorization", "") or request.headers.get("X-API-Key", "")
            return Response(json.dumps({"error": {"message": f"invalid credentials {creds}", "type": "invalid_request_error",
                                                  "code": 401, "errors": []}}),
                            status=401, content_type="application/json")
        rec.fault = fault = self.faults.draw()
        if fault in ("before_500", "before_503", "before_429"):
            return self.error(int(fault[-3:]), "injected fault")
        if fault == "before_timeout":
            time.sleep(self.faults.timeout)
            return self.error(504, "injected timeout")
        with self._lock:
            status, body, headers = self.answer(request, rec)
        if fault == "after_500":
            return self.error(500, "injected fault after the request was processed")
        if fault == "after_timeout":
            time.sleep(self.faults.timeout)
        if status == 204:
            return Response(status=204, headers=headers)
        return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")

    def answer(self, request: Request, rec: Recorded) -> tuple[int, dict, dict]:
        key = request.headers.get("Idempotency-Key")
        if key and request.method in ("POST", "PUT"):
            cache_key = f"{request.method} {request.path} {key}"
            if cache_key in self._idempotent:
                return self._idempotent[cache_key]
            result = self.route(request, rec)
            if result[0] < 500:
                self._idempotent[cache_key] = result
            return result
        return self.route(request, rec)

    def route(self, request: Request, rec: Recorded) -> tuple[int, dict, dict]:
        raise NotImplementedError

    def error(self, status: int, message: str) -> Response:
        return Response(json.dumps({"error": {"message": message}}), status=status, content_type="application/json")

    def not_found(self, rec: Recorded):
        return 404, {"error": {"message": f"no route {rec.method} {rec.path}"}}, {}

    # -- for assertions ----------------------------------------------------------------------
    def calls(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]


def _stripe_nested(form: dict) -> dict:
    """Stripe's form encoding (a[b]=c) back to nested dicts."""
    out: dict = {}
    for k, v in form.items():
        parts = re.findall(r"[^\[\]]+", k)
        cur = out
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = v
    return out


class FakeStripe(Fake):
    name = "stripe"

    def __init__(self, faults=None, decline_customers=()):
        super().__init__(faults)
        self.decline_customers = set(decline_customers)

    def route(self, request, rec):
        p, m = rec.path, rec.method
        params = _stripe_nested(rec.form) if m == "POST" else {}
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return 401, {"error": {"type": "invalid_request_error", "message": "no key"}}, {}
        if m == "POST" and p == "/v1/customers":
            cid = self.new_id("cus_")
            self.store("customers")[cid] = {"id": cid, "object": "customer", **params}
            return 200, self.store("customers")[cid], {}
        if (mm := re.fullmatch(r"/v1/customers/(cus_\w+)", p)) and m == "POST":
            c = self.store("customers")[mm[1]]
            c.update(params)
            return 200, c, {}
        if m == "POST" and p == "/v1/invoices":
            if params.get("customer") not in self.store("customers"):
                return 400, {"error": {"type": "invalid_request_error", "message": "No such customer"}}, {}
            iid = self.new_id("in_")
            inv = {"id": iid, "object": "invoice", "status": "draft", "lines": [], "amount_due": 0, **params}
            self.store("invoices")[iid] = inv
            return 200, inv, {}
        if m == "POST" and p == "/v1/invoiceitems":
            inv = self.store("invoices").get(params.get("invoice"))
            if inv is None or inv["status"] != "draft":
                return 400, {"error": {"type": "invalid_request_error", "message": "invoice not a draft"}}, {}
            item = {"id": self.new_id("ii_"), "object": "invoiceitem", **params}
            self.store("invoice_items")[item["id"]] = item
            inv["lines"].append(item["id"])
            inv["amount_due"] += int(params["amount"])
            return 200, item, {}
        if (mm := re.fullmatch(r"/v1/invoices/(in_\w+)/finalize", p)) and m == "POST":
            inv = self.store("invoices")[mm[1]]
            if inv["status"] != "draft":
                return 400, {"error": {"type": "invalid_request_error", "message": "already finalized"}}, {}
            inv["status"] = "open"
            return 200, inv, {}
        if (mm := re.fullmatch(r"/v1/invoices/(in_\w+)/pay", p)) and m == "POST":
            inv = self.store("invoices")[mm[1]]
            if inv["status"] == "paid":
                return 400, {"error": {"type": "invalid_request_error", "message": "Invoice is already paid"}}, {}
            if inv["customer"] in self.decline_customers:
                return 402, {"error": {"type": "card_error", "code": "card_declined", "message": "declined"}}, {}
            inv["status"] = "paid"
            self.store("payments")[inv["id"]] = {"invoice": inv["id"], "amount": inv["amount_due"]}
            return 200, inv, {}
        if (mm := re.fullmatch(r"/v1/invoices/(in_\w+)/void", p)) and m == "POST":
            inv = self.store("invoices")[mm[1]]
            if inv["status"] != "open":
                return 400, {"error": {"type": "invalid_request_error",
                                       "message": f"You can only void open invoices (this one is {inv['status']})"}}, {}
            inv["status"] = "void"
            return 200, inv, {}
        if (mm := re.fullmatch(r"/v1/invoices/(in_\w+)", p)) and m == "GET":
            return 200, self.store("invoices")[mm[1]], {}
        return self.not_found(rec)


class FakeGoCardless(Fake):
    name = "gocardless"

    def __init__(self, faults=None, without_mandate=()):
        super().__init__(faults)
        self.without_mandate = set(without_mandate)
        self._keys: dict[str, str] = {}

    def answer(self, request, rec):
        return self.route(request, rec)  # GoCardless's own idempotency rules, below

    def _conflict(self, rid):
        return 409, {"error": {"type": "invalid_state", "code": 409, "message": "A resource has already been created with this idempotency key",
                               "documentation_url": "https://developer.gocardless.com/api-reference#idempotent_creation_conflict",
                               "request_id": str(uuid.uuid4()),
                               "errors": [{"reason": "idempotent_creation_conflict", "message": "conflict",
                                           "links": {"conflicting_resource_id": rid}}]}}, {}

    def route(self, request, rec):
        p, m = rec.path, rec.method
        if request.headers.get("Authorization", "") != "Bearer " + self.token:
            return 401, {"error": {"type": "invalid_api_usage", "code": 401, "message": "Unauthorized", "errors": []}}, {}
        body = rec.json or {}
        key = request.headers.get("Idempotency-Key")
        if m == "POST" and p == "/customers":
            if key in self._keys:
                return self._conflict(self._keys[key])
            cid = self.new_id("CU")
            c = {"id": cid, **body["customers"]}
            self.store("customers")[cid] = c
            self._keys[key] = cid
            if c.get("metadata", {}).get("tally_external_customer_id") not in self.without_mandate:
                mid = self.new_id("MD")
                self.store("mandates")[mid] = {"id": mid, "status": "active", "links": {"customer": cid}}
            return 201, {"customers": c}, {}
        if (mm := re.fullmatch(r"/customers/(CU\w+)", p)):
            c = self.store("customers")[mm[1]]
            if m == "PUT":
                c.update(body["customers"])
            return 200, {"customers": c}, {}
        if m == "GET" and p == "/mandates":
            ms = [x for x in self.store("mandates").values() if x["links"]["customer"] == rec.query.get("customer")]
            return 200, {"mandates": ms, "meta": {"cursors": {"before": None, "after": None}, "limit": 50}}, {}
        if m == "POST" and p == "/payments":
            if key in self._keys:
                return self._conflict(self._keys[key])
            pid = self.new_id("PM")
            pay = {"id": pid, "status": "pending_submission", **body["payments"]}
            self.store("payments")[pid] = pay
            self._keys[key] = pid
            return 201, {"payments": pay}, {}
        if (mm := re.fullmatch(r"/payments/(PM\w+)", p)) and m == "GET":
            return 200, {"payments": self.store("payments")[mm[1]]}, {}
        return self.not_found(rec)

    token = "gc-token"

    def error(self, status: int, message: str) -> Response:
        kind = "invalid_api_usage" if status == 429 else "gocardless"
        errors = [{"reason": "rate_limit_exceeded", "message": message}] if status == 429 else []
        return Response(json.dumps({"error": {"type": kind, "code": status, "message": message, "errors": errors,
                                              "documentation_url": "", "request_id": str(uuid.uuid4())}}),
                        status=status, content_type="application/json")


class FakeAdyen(Fake):
    name = "adyen"
    api_key = "adyen-key"

    def __init__(self, faults=None, shoppers_without_card=()):
        super().__init__(faults)
        self.shoppers_without_card = set(shoppers_without_card)

    def route(self, request, rec):
        p, m = rec.path, rec.method
        if request.headers.get("X-API-Key") != self.api_key:
            return 401, {"status": 401, "errorCode": "000", "message": "HTTP Status Response - Unauthorized",
                         "errorType": "security"}, {}
        body = rec.json or {}
        if m == "POST" and p.endswith("/paymentMethods"):
            shopper = body.get("shopperReference")
            stored = [] if shopper in self.shoppers_without_card else [
                {"id": f"stored_{shopper}", "type": "scheme", "brand": "visa", "lastFour": "1111"}]
            return 200, {"paymentMethods": [], "storedPaymentMethods": stored}, {}
        if m == "POST" and p.endswith("/payments"):
            psp = self.new_id("PSP")
            self.store("payments")[psp] = body
            return 200, {"pspReference": psp, "resultCode": "Authorised", "merchantReference": body["reference"],
                         "amount": body["amount"]}, {}
        return self.not_found(rec)


class FakeXero(Fake):
    name = "xero"

    def route(self, request, rec):
        p, m = rec.path, rec.method
        if not request.headers.get("Authorization", "").startswith("Bearer ") or not request.headers.get("Xero-Tenant-Id"):
            return 401, {"Type": None, "Title": "Unauthorized", "Status": 401, "Detail": "no token"}, {}
        body = rec.json or {}
        if p == "/api.xro/2.0/Contacts" and m in ("PUT", "POST"):
            out = []
            for c in body["Contacts"]:
                cid = str(uuid.uuid4())
                self.store("contacts")[cid] = {**c, "ContactID": cid}
                out.append(self.store("contacts")[cid])
            return 200, {"Id": str(uuid.uuid4()), "Status": "OK", "Contacts": out}, {}
        if (mm := re.fullmatch(r"/api.xro/2.0/Contacts/([\w-]+)", p)) and m == "POST":
            c = self.store("contacts").setdefault(mm[1], {"ContactID": mm[1]})
            c.update(body["Contacts"][0])
            return 200, {"Id": str(uuid.uuid4()), "Status": "OK", "Contacts": [c]}, {}
        if (mm := re.fullmatch(r"/api.xro/2.0/Invoices/([\w-]+)", p)) and m == "POST":
            inv = self.store("invoices").get(mm[1])
            if inv is None:
                return 404, {"Type": None, "Title": "Not Found", "Status": 404, "Detail": "no invoice"}, {}
            update = body["Invoices"][0]
            if update.get("Status") == "VOIDED" and inv.get("Status") != "AUTHORISED":
                return 400, {"ErrorNumber": 10, "Type": "ValidationException", "Message": "cannot void"}, {}
            inv.update({k: v for k, v in update.items() if k != "InvoiceID"})
            return 200, {"Id": str(uuid.uuid4()), "Status": "OK", "Invoices": [inv]}, {}
        if p == "/api.xro/2.0/Invoices" and m in ("PUT", "POST"):
            out = []
            for inv in body["Invoices"]:
                iid = str(uuid.uuid4())
                self.store("invoices")[iid] = {**inv, "InvoiceID": iid}
                out.append(self.store("invoices")[iid])
            return 200, {"Id": str(uuid.uuid4()), "Status": "OK", "Invoices": out}, {}
        return self.not_found(rec)


class FakeNetSuite(Fake):
    name = "netsuite"
    account = "1234567_SB1"
    consumer_key, consumer_secret, token_id, token_secret = "ns-ck", "ns-cs", "ns-tid", "ns-ts"

    def answer(self, request, rec):
        return self.route(request, rec)  # upserts by external id are idempotent by themselves

    def _signed(self, request, rec) -> bool:
        auth = request.headers.get("Authorization", "")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
        if not auth.startswith("OAuth ") or "oauth_signature" not in fields:
            return False
        from urllib.parse import unquote

        expected = oauth1_header(rec.method, self.url + rec.path, self.account, self.consumer_key, self.consumer_secret,
                                 self.token_id, self.token_secret, unquote(fields["oauth_timestamp"]),
                                 unquote(fields["oauth_nonce"]))
        want = dict(re.findall(r'(\w+)="([^"]*)"', expected))["oauth_signature"]
        return hmac.compare_digest(want, fields["oauth_signature"])

    def route(self, request, rec):
        p, m = rec.path, rec.method
        if not self._signed(request, rec):
            return 401, {"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2", "title": "Unauthorized",
                         "status": 401, "o:errorDetails": [{"detail": "Invalid login attempt."}]}, {}
        body = rec.json or {}
        if (mm := re.fullmatch(r"/services/rest/record/v1/(customer|invoice)/eid:(.+)", p)) and m == "PUT":
            kind, eid = mm[1], mm[2]
            records = self.store(kind)
            found = next((k for k, v in records.items() if v["externalId"] == eid), None)
            rid = found or str(100 + len(records) + (0 if kind == "customer" else 5000))
            records[rid] = {**records.get(rid, {}), **body, "externalId": eid, "id": rid}
            return 204, {}, {"Location": f"{self.url}/services/rest/record/v1/{kind}/{rid}"}
        if (mm := re.fullmatch(r"/services/rest/record/v1/customer/(\d+)", p)) and m == "PATCH":
            self.store("customer")[mm[1]].update(body)
            return 204, {}, {}
        return self.not_found(rec)


class FakeHubSpot(Fake):
    name = "hubspot"

    def answer(self, request, rec):
        return self.route(request, rec)  # upserts on unique properties

    def route(self, request, rec):
        p, m = rec.path, rec.method
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return 401, {"status": "error", "message": "Authentication credentials not found", "category": "INVALID_AUTHENTICATION"}, {}
        now = "2026-04-01T00:00:00.000Z"
        if (mm := re.fullmatch(r"/crm/v3/objects/([\w-]+)/batch/upsert", p)) and m == "POST":
            kind, id_property = mm[1], rec.query.get("idProperty")
            results = []
            for item in rec.json["inputs"]:
                prop = item.get("idProperty") or id_property
                records = self.store(kind)
                found = next((k for k, v in records.items() if v.get(prop) == item["id"]), None)
                rid = found or str(9000 + len(records) + 1)
                records[rid] = {**records.get(rid, {}), **item["properties"], prop: item["id"]}
                results.append({"id": rid, "properties": records[rid], "createdAt": now, "updatedAt": now,
                                "archived": False, "new": found is None})
            return 200, {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}, {}
        if (mm := re.fullmatch(r"/crm/v4/objects/([\w-]+)/(\w+)/associations/default/(\w+)/(\w+)", p)) and m == "PUT":
            self.store("associations")[f"{mm[1]}/{mm[2]}->{mm[3]}/{mm[4]}"] = {"from": mm[2], "to": mm[4]}
            return 200, {"status": "COMPLETE", "startedAt": now, "completedAt": now, "results": [
                {"from": {"id": mm[2]}, "to": {"id": mm[4]},
                 "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}}]}, {}
        return self.not_found(rec)


class FakeWebhookReceiver(Fake):
    """A customer's endpoint for Tally's webhooks: checks the HMAC signature, drops repeats."""
    name = "webhook"

    def __init__(self, secret: str, faults=None):
        super().__init__(faults)
        self.secret = secret
        self.bad_signatures = 0

    def answer(self, request, rec):
        return self.route(request, rec)

    def route(self, request, rec):
        expected = base64.b64encode(hmac.new(self.secret.encode(), rec.body, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, request.headers.get("X-Tally-Signature", "")):
            self.bad_signatures += 1
            return 401, {"error": "bad signature"}, {}
        key = request.headers["X-Tally-Unique-Key"]
        self.store("messages").setdefault(key, json.loads(rec.body))
        return 200, {"ok": True}, {}


@dataclass
class Systems:
    stripe: FakeStripe
    gocardless: FakeGoCardless
    adyen: FakeAdyen
    xero: FakeXero
    netsuite: FakeNetSuite
    hubspot: FakeHubSpot
    webhook: FakeWebhookReceiver
    secrets: dict = field(default_factory=dict)

    def all(self) -> list[Fake]:
        return [self.stripe, self.gocardless, self.adyen, self.xero, self.netsuite, self.hubspot, self.webhook]

    def env(self) -> dict[str, str]:
        """Every TALLY_* variable that points the push layer at these fakes, secrets included."""
        return {
            "TALLY_STRIPE_API_BASE": self.stripe.url,
            "TALLY_GOCARDLESS_BASE_URL": self.gocardless.url,
            "TALLY_ADYEN_CHECKOUT_URL": self.adyen.url + "/v72",
            "TALLY_ADYEN_MERCHANT_ACCOUNT": "TallyTestMerchant",
            "TALLY_XERO_BASE_URL": self.xero.url + "/api.xro/2.0",
            "TALLY_XERO_TENANT_ID": "tenant-1",
            "TALLY_NETSUITE_BASE_URL": self.netsuite.url,
            "TALLY_NETSUITE_ITEM_ID": "77",
            "TALLY_HUBSPOT_BASE_URL": self.hubspot.url,
            "TALLY_WEBHOOK_URLS": self.webhook.url + "/hooks/tally",
            **self.secrets,
        }

    def stop(self):
        for f in self.all():
            f.stop()


SECRETS = {
    "TALLY_STRIPE_API_KEY": "fake_stripe_key_for_tests_0000",
    "TALLY_STRIPE_WEBHOOK_SECRET": "fake_stripe_webhook_secret_0000",
    "TALLY_GOCARDLESS_ACCESS_TOKEN": FakeGoCardless.token,
    "TALLY_GOCARDLESS_WEBHOOK_SECRET": "gc-webhook-secret-0000",
    "TALLY_ADYEN_API_KEY": FakeAdyen.api_key,
    "TALLY_XERO_ACCESS_TOKEN": "xero-access-token-0000",
    "TALLY_NETSUITE_ACCOUNT_ID": FakeNetSuite.account,
    "TALLY_NETSUITE_CONSUMER_KEY": FakeNetSuite.consumer_key,
    "TALLY_NETSUITE_CONSUMER_SECRET": FakeNetSuite.consumer_secret,
    "TALLY_NETSUITE_TOKEN_ID": FakeNetSuite.token_id,
    "TALLY_NETSUITE_TOKEN_SECRET": FakeNetSuite.token_secret,
    "TALLY_HUBSPOT_ACCESS_TOKEN": "pat-na1-hubspot-token-0000",
    "TALLY_WEBHOOK_SECRET": "tally-webhook-signing-secret-0000",
}


def start_systems(faults: Faults | None = None, **options) -> Systems:
    faults = faults or Faults()
    return Systems(
        stripe=FakeStripe(faults, options.get("decline_customers", ())),
        gocardless=FakeGoCardless(faults, options.get("without_mandate", ())),
        adyen=FakeAdyen(faults, options.get("shoppers_without_card", ())),
        xero=FakeXero(faults), netsuite=FakeNetSuite(faults), hubspot=FakeHubSpot(faults),
        webhook=FakeWebhookReceiver(SECRETS["TALLY_WEBHOOK_SECRET"], faults),
        secrets=dict(SECRETS))
