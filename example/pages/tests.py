"""The chapter's two tests from 21.11, copied unchanged."""
# ruff: noqa: F401, I001  (the chapter's imports, kept exactly as printed)

import logging
from django.test import TestCase


class ReadyzTests(TestCase):
    def test_readyz_ok(self):
        response = self.client.get("/readyz/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "ready")


class AccessLogTests(TestCase):
    def test_access_log_emits(self):
        with self.assertLogs("access", level="INFO") as cm:
            self.client.get("/healthz/")

        joined = "\n".join(cm.output)
        self.assertIn("path=/healthz/", joined)
        self.assertIn("status=200", joined)
