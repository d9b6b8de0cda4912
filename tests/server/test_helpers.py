"""The real-server test helpers clean up after themselves."""

from __future__ import annotations

import pytest

from tests.helpers.servers import run_server


@pytest.mark.server
def test_the_log_file_is_removed_and_its_output_kept() -> None:
    """After the server stops its temporary log file is gone, and what it wrote is still readable."""
    with run_server("uvicorn") as server:
        log_path = server.log_path
        assert log_path.exists()
    assert not log_path.exists(), f"{log_path} left behind"
    assert "Uvicorn running" in server.output() or "Application startup complete" in server.output()
