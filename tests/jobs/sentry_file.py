"""A Sentry transport that appends each event to a file, so a test can read what a worker sent."""

from __future__ import annotations

import json

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport


class FileTransport(Transport):
    path = ""

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type == "event" and item.payload.json is not None:
                with open(self.path, "a", encoding="utf-8") as out:
                    out.write(json.dumps(item.payload.json, default=str) + "\n")


def init_sentry_to_file(path: str) -> None:
    FileTransport.path = path

    sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", transport=FileTransport, default_integrations=True)
