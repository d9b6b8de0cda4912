"""Headless Chromium for the walk: one page visit, what the browser received, and whether it was styled.

Response headers come from Chromium's own network log (the DevTools
``Network.responseReceived`` events that chromedriver records when the
``performance`` log is on), so the request id checked is the one the browser
actually got, not one fetched again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

# Reads every stylesheet link of the page and whether its rules loaded, how many
# inline <style> elements it has (the operations page has no static files), and two
# computed styles: the example's body font (site.css) and the admin's header
# background (admin/css/base.css). Unstyled, both are the browser's defaults.
PAGE_PROBE = """
const links = [...document.querySelectorAll('link[rel="stylesheet"]')];
const loaded = links.map((link) => {
  try { return !!link.sheet && link.sheet.cssRules.length > 0; } catch (e) { return false; }
});
const header = document.querySelector('#header');
const quoted = document.querySelector('.request-id code');
return {
  stylesheets: links.map((link) => link.href),
  inlineStyles: document.querySelectorAll('style').length,
  loaded: loaded,
  bodyFont: getComputedStyle(document.body).fontFamily,
  adminHeaderBackground: header ? getComputedStyle(header).backgroundColor : null,
  quotedId: quoted ? quoted.textContent.trim() : null,
  links: [...document.querySelectorAll('a[href]')].map((a) => a.href),
};
"""


@dataclass
class Response:
    url: str
    status: int
    mime_type: str
    resource_type: str
    headers: dict[str, str]

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


@dataclass
class Visit:
    """One navigation: the document's response and, for HTML, what the page showed."""

    requested: str
    url: str
    document: Response | None
    responses: list[Response]
    page: dict[str, Any] = field(default_factory=dict)

    @property
    def is_html(self) -> bool:
        return self.document is not None and self.document.mime_type == "text/html"

    @property
    def is_admin(self) -> bool:
        return "/admin/" in self.url


def chromium_paths() -> tuple[str, str] | None:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def start_browser(download_dir: Path) -> webdriver.Chrome:
    paths = chromium_paths()
    assert paths is not None
    chromium, driver = paths
    options = Options()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": str(download_dir)})
    # The Debian chromedriver, named explicitly: Selenium Manager must not try to download one.
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    browser.set_page_load_timeout(20)
    return browser


def drain_responses(browser: webdriver.Chrome) -> list[Response]:
    responses = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") != "Network.responseReceived":
            continue
        params = message["params"]
        raw = params["response"]
        headers = {str(k).lower(): str(v) for k, v in raw.get("headers", {}).items()}
        responses.append(Response(raw["url"], int(raw["status"]), raw.get("mimeType", ""), params["type"], headers))
    return responses


def visit(browser: webdriver.Chrome, url: str) -> Visit:
    """Navigate to ``url`` (the browser waits for the load) and describe what came back."""
    drain_responses(browser)
    browser.get(url)
    return describe(browser, url)


def describe(browser: webdriver.Chrome, requested: str) -> Visit:
    """What the last navigation (a ``get`` or a form submission) received and showed."""
    responses = drain_responses(browser)
    documents = [r for r in responses if r.resource_type == "Document"]
    current = browser.current_url
    # A download (the CSV export) leaves the page where it was: its response is the one requested.
    matching = [r for r in documents if r.url == current] or [r for r in responses if r.url == requested]
    result = Visit(requested, current, matching[-1] if matching else None, responses)
    if result.is_html:
        result.page = browser.execute_script(PAGE_PROBE)
    return result


def _replaced(old_page: WebElement) -> Callable[[webdriver.Chrome], bool]:
    """True once ``old_page`` is gone: Selenium's ``staleness_of``, except that
    Chrome sometimes reports a node of the page being replaced as belonging to
    no document instead of as stale; that is the same answer."""

    def check(_browser: webdriver.Chrome) -> bool:
        try:
            old_page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    return check


def submit(browser: webdriver.Chrome, css: str, requested: str) -> Visit:
    """Click the submit control ``css`` and wait until the next page has replaced this one."""
    old_page = browser.find_element(By.TAG_NAME, "html")
    drain_responses(browser)
    browser.find_element(By.CSS_SELECTOR, css).click()
    WebDriverWait(browser, 20).until(_replaced(old_page))
    WebDriverWait(browser, 20).until(lambda b: b.execute_script("return document.readyState") == "complete")
    return describe(browser, requested)
