"""A Sentry transport that appends each event to a file, so a test can read what a worker sent."""

from __future__ import annotations

import json

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from django_lantern.sentry import make_before_send


class FileTransport(Transport):
    path = ""

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type == "event" and item.payload.json is not None:
                with open(self.path, "a", encoding="utf-8") as out:
                    out.write(json.dumps(item.payload.json, default=str) + "\n")


def init_sentry_to_file(path: str) -> None:
    FileTransport.path = path

    # Through lantern's before_send, as django_lantern.sentry.init() sets it up.
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:9/1",
        transport=FileTransport,
        default_integrations=True,
        before_send=make_before_send(),
    )
