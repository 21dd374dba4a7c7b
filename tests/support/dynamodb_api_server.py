"""A local DynamoDB API for the tests: moto's server, answering one request at a time.

Why moto and not dynalite: dynalite has no TransactWriteItems, and sign-up's atomic
"user + email claim + first session" write is a transaction. Why one request at a time:
moto's DynamoDB backend has no per-item locking, so a threaded server could interleave two
conditional writes; serialised, each request is atomic as on DynamoDB, and races between
clients still resolve by the condition expressions under test.

Usage: python3 dynamodb_api_server.py PORT
"""

import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler
from werkzeug.serving import run_simple

app = DomainDispatcherApplication(create_backend_app)
run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=False, request_handler=MotoRequestHandler)
