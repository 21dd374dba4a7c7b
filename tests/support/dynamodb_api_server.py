"""A local DynamoDB API (and SES v2 API) for the tests: moto's server, answering one request at a time.

Why moto and not dynalite: dynalite has no TransactWriteItems, and sign-up's atomic
"user + email claim + first session" write is a transaction. Why one request at a time:
moto's DynamoDB backend has no per-item locking, so a threaded server could interleave two
conditional writes; serialised, each request is atomic as on DynamoDB, and races between
clients still resolve by the condition expressions under test.

IAM: moto checks nothing until told to (template_deploy.py does, for the Lambda functions), then
checks each request's signature and its permissions against the caller's IAM policies. moto
itself checks every DynamoDB call as one action on resource "*", which no policy naming the
table matches; here each call is checked as AWS does: on the table's (or index's) ARN, and a
TransactWriteItems as the PutItem/UpdateItem/DeleteItem/ConditionCheckItem of each of its items
(AWS, "Using IAM with DynamoDB transactions"). SES v2's SendEmail is checked as AWS does too:
action ses:SendEmail on the sending identity's ARN (the From address's own identity if it is
one, else its domain's), and EventBridge's PutEvents as events:PutEvents on each entry's event
bus ARN. A refusal is printed as a `denied:` line.

EventBridge: the same server is the local EventBridge API the Lambda functions put security
events on (tests/support/lambda.sh makes the bus and an archive of it, which GET
/moto-api/data.json lists under events.Archive with its events).

SES: moto keeps sent messages (GET /moto-api/data.json lists them under ses.Message); this
server also keeps each message's text and HTML bodies, which moto alone reduces to one, and
lists one recipient's at GET /authfn-test/mail?to=ADDRESS.

TransactWriteItems: DynamoDB's idempotency (ClientRequestToken) and a rollback that costs the
transaction's items, not its tables (see transact_write_items_once below for why).

Usage: python3 dynamodb_api_server.py PORT
"""

import copy
import functools
import json
import sys
import time
from email.utils import parseaddr
from urllib.parse import parse_qs

import jsonpath_ng.ext

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.responses import ActionResult
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.events.responses import EventsHandler
from moto.iam.access_control import IAMRequest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler
from moto.ses.models import ses_backends
from moto.sesv2.responses import SESV2Response
from werkzeug.serving import run_simple

TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def permissions(handler):
    """The (IAM action, resource ARN) pairs AWS checks for this request."""
    if isinstance(handler, SESV2Response):
        return ses_permissions(handler)
    if isinstance(handler, EventsHandler):
        return events_permissions(handler)
    return [(f"dynamodb:{action}", arn) for action, arn in dynamodb_permissions(handler)]


def ses_permissions(handler):
    """SendEmail on the identity it sends from; any other SES v2 call on "*"."""
    operation = handler._get_action()
    if operation != "SendEmail":
        return [(f"ses:{operation}", "*")]
    address = parseaddr(json.loads(handler.body or "{}").get("FromEmailAddress", ""))[1]
    identities = ses_backends[handler.current_account][handler.region].email_identities
    domain = address.rsplit("@", 1)[-1]
    identity = domain if address not in identities and domain in identities else address
    return [("ses:SendEmail", f"arn:aws:ses:{handler.region}:{handler.current_account}:identity/{identity}")]


def events_permissions(handler):
    """PutEvents on the bus of each entry (a name, an ARN, or none: the default bus); any other
    EventBridge call on "*"."""
    operation = handler._get_action()
    if operation != "PutEvents":
        return [(f"events:{operation}", "*")]

    def arn(bus):
        if bus.startswith("arn:"):
            return bus
        return f"arn:aws:events:{handler.region}:{handler.current_account}:event-bus/{bus}"

    entries = json.loads(handler.body or "{}").get("Entries", [])
    return [("events:PutEvents", arn(entry.get("EventBusName") or "default")) for entry in entries]


def dynamodb_permissions(handler):
    """The (DynamoDB action, resource ARN) pairs AWS checks for this DynamoDB request."""
    operation = handler._get_action()
    body = json.loads(handler.raw_body or b"{}")

    def arn(table):
        return f"arn:aws:dynamodb:{handler.region}:{handler.current_account}:table/{table}"

    if operation == "TransactWriteItems":
        return [(TRANSACT_ACTIONS[kind], arn(item["TableName"])) for entry in body["TransactItems"] for kind, item in entry.items()]
    if operation == "TransactGetItems":
        return [("GetItem", arn(entry["Get"]["TableName"])) for entry in body["TransactItems"]]
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [(operation, arn(table)) for table in body["RequestItems"]]
    if "TableName" in body:
        resource = arn(body["TableName"])
        if body.get("IndexName"):
            resource += f"/index/{body['IndexName']}"
        return [(operation, resource)]
    return [(operation, "*")]


def authorize(self, resource="*"):
    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    for action, arn in permissions(self):
        # IAMRequest prefixes the service named in the request's signature.
        request = IAMRequest(account_id=self.current_account, method=self.method, path=self.raw_path,
                             data=self.data, body=self.raw_body, headers=self.headers, action=action.split(":", 1)[1])
        request.check_signature()
        try:
            request.check_action_permitted(arn)
        except Exception:
            user = getattr(request._access_key, "_owner_user_name", self.access_key)
            print(f"denied: {user} {action} on {arn}", file=sys.stderr, flush=True)
            raise


DynamoHandler._authenticate_and_authorize_normal_action = authorize
SESV2Response._authenticate_and_authorize_normal_action = authorize
EventsHandler._authenticate_and_authorize_normal_action = authorize

moto_send_email = SESV2Response.send_email


def send_email_keeping_both_bodies(self):
    """moto's SES v2 keeps one body of a Simple message (the HTML when there is one); keep the
    text and the HTML too, as `text` and `html` on the stored message, which
    GET /moto-api/data.json lists under ses.Message with the rest of it."""
    answer = moto_send_email(self)
    simple = json.loads(self.body)["Content"].get("Simple")
    if simple:
        message_id = json.loads(answer)["MessageId"]
        sent = ses_backends[self.current_account][self.region].sent_messages
        message = next(m for m in reversed(sent) if m.id == message_id)
        message.text = simple["Body"].get("Text", {}).get("Data")
        message.html = simple["Body"].get("Html", {}).get("Data")
    return answer


SESV2Response.send_email = send_email_keeping_both_bodies

# moto hands each event to each target through eight JSONPath expressions, and jsonpath_ng
# builds its parser tables again for every one: about 0.3 s an event, which would put the
# functions' EventBridge calls past their timeouts. The expressions are always the same.
jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)



# TransactWriteItems as DynamoDB runs it, in two respects moto does not (both met first by the
# soak test, bench/soak.sh, whose 50 users write thousands of items):
#
# 1. Idempotency. DynamoDB answers a transaction whose ClientRequestToken succeeded in the
#    last 10 minutes with success, without running it again, and with
#    IdempotentParameterMismatchException when the rest of the request differs (API reference,
#    TransactWriteItems). The AWS SDK puts a token on every call and keeps it across its
#    retries, so a retry after an attempt whose answer was lost to a timeout does not fail on
#    its own first attempt's writes. moto ignores the token: such a retry failed its conditions,
#    and a refresh-token rotation read as reuse of the token.
# 2. Cost. Before a transaction moto copies each table it names, whole, to roll back to, so a
#    transaction's time grew with the table until the store's timeouts fired. Here only the
#    items the transaction names are kept, and put back if it is cancelled.

IDEMPOTENCY_WINDOW_SECS = 600
succeeded_tokens = {}  # ClientRequestToken -> (the request's items as JSON, monotonic time)
moto_transact_response = DynamoHandler.transact_write_items
moto_transact = DynamoDBBackend.transact_write_items


def transact_write_items_once(self):
    token = self.body.get("ClientRequestToken")
    if not token:
        return moto_transact_response(self)
    now = time.monotonic()
    for old in [t for t, (_, at) in succeeded_tokens.items() if now - at > IDEMPOTENCY_WINDOW_SECS]:
        del succeeded_tokens[old]
    request = json.dumps(self.body["TransactItems"], sort_keys=True, default=repr)  # B values are bytes
    if token in succeeded_tokens:
        if succeeded_tokens[token][0] != request:
            raise DynamodbException(
                ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
                "ClientRequestToken was used with a different request within the idempotency window",
            )
        return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
    answer = moto_transact_response(self)
    succeeded_tokens[token] = (request, now)
    return answer


class TablesNotCopied:
    """What moto's transaction sees as the `copy` module: a table "copy" is the table itself,
    so moto's own rollback (putting the copies back) changes nothing; anything else is copied."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def transact_write_items_keeping_items(self, transact_items):
    kept = []  # (table, hash value, range value, the item before, or None)
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        try:
            table = self.get_table(op["TableName"])
            key = op.get("Key") or {
                name: op["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name
            }
            hash_value, range_value = self.get_keys_value(table, key)
            before = table.get_item(hash_value, range_value)
        except Exception:
            continue  # moto refuses the transaction itself, before it writes anything
        kept.append((table, hash_value, range_value, copy.deepcopy(before)))
    dynamodb_models.copy = TablesNotCopied
    try:
        return moto_transact(self, transact_items)
    except Exception:
        for table, hash_value, range_value, before in reversed(kept):
            items = table.items[hash_value] if range_value else table.items
            slot = range_value if range_value else hash_value
            if before is None:
                items.pop(slot, None)
            else:
                items[slot] = before
        raise
    finally:
        dynamodb_models.copy = copy


DynamoHandler.transact_write_items = transact_write_items_once
DynamoDBBackend.transact_write_items = transact_write_items_keeping_items


def with_mail_lookup(app):
    """GET /authfn-test/mail?to=ADDRESS: the messages SES accepted for ADDRESS, newest first, as
    a JSON list of {to, subject, text, html}. For the soak test's many readers: moto's
    /moto-api/data.json is rebuilt from everything the server holds for every read, and under
    load that starved the requests it serves."""
    def serve(environ, start_response):
        if environ.get("PATH_INFO") != "/authfn-test/mail":
            return app(environ, start_response)
        to = parse_qs(environ.get("QUERY_STRING", "")).get("to", [""])[0].lower()
        found = []
        for regions in list(ses_backends.values()):
            for backend in list(regions.values()):
                for m in reversed(backend.sent_messages):
                    if to in (a.lower() for a in getattr(m, "destinations", {}).get("ToAddresses", [])):
                        found.append({"to": to, "subject": getattr(m, "subject", ""),
                                      "text": getattr(m, "text", None) or getattr(m, "body", ""),
                                      "html": getattr(m, "html", None) or getattr(m, "body", "")})
        body = json.dumps(found).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    return serve


app = with_mail_lookup(DomainDispatcherApplication(create_backend_app))
run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=False, request_handler=MotoRequestHandler)
