"""Crawling a website into drafts, against a real HTTP server on 127.0.0.1.

The site has what real sites have: robots.txt rules, a sitemap, links off the site, a broken
page, a slow page, redirects, a PDF, and more pages than we want to read.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from knowledge.sources import website
from knowledge.sources.drafts import SourceInputError
from knowledge.sources.website import crawl_website

OFF_SITE = "http://example.invalid"  # never resolvable: fetching it would show up as a failure

PAGES = {
    "index.html": f"""<!doctype html><html lang="en-GB"><head><title>Acme Help</title></head>
<body><nav><a href="/nav-only.html">Menu</a></nav>
<h1>Acme Help</h1><p>Answers for Acme customers.</p>
<ul>
<li><a href="/docs/getting-started.html">Getting started</a></li>
<li><a href="docs/billing.html#invoices">Invoices</a></li>
<li><a href="/docs/billing.html">Billing again</a></li>
<li><a href="/private/salaries.html">Private</a></li>
<li><a href="{OFF_SITE}/phishing.html">Elsewhere</a></li>
<li><a href="//example.invalid/protocol-relative.html">Elsewhere too</a></li>
<li><a href="/files/manual.pdf">Manual</a></li>
<li><a href="/api/status">Status feed</a></li>
<li><a href="/broken">Broken</a></li>
<li><a href="/moved">Moved</a></li>
<li><a href="/away">Away</a></li>
<li><a href="mailto:help@acme.example">Mail us</a></li>
</ul></body></html>""",
    "docs/getting-started.html": """<html lang="pt-BR"><head><title>Primeiros passos</title></head>
<body><h1>Primeiros passos</h1><p>Crie sua conta.</p><h2>Convide sua equipe</h2>
<p>Use o botão Convidar.</p><a href="/docs/deep/level-2.html">Next</a></body></html>""",
    "docs/billing.html": """<html><head><title>Billing</title></head><body><h1>Billing</h1>
<h2 id="invoices">Invoices</h2><p>Download invoices from Settings.</p></body></html>""",
    "docs/deep/level-2.html": """<html><head><title>Level 2</title></head>
<body><p>Two clicks from home.</p></body></html>""",
    "private/salaries.html": "<html><body><p>Secret salaries.</p></body></html>",
    "nav-only.html": "<html><body><p>Reached only from navigation.</p></body></html>",
    "files/manual.pdf": "%PDF-1.4 not really",
}
ROBOTS = "User-agent: *\nDisallow: /private/\n"


@dataclass
class Site:
    root: str
    requests: list[str] = field(default_factory=list)
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.root + path

    def write(self, folder: Path, path: str, text: str) -> None:
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def make_handler(folder: Path, site: Site) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_GET(self):
            site.requests.append(self.path)
            time.sleep(site.delays.get(self.path, 0))
            # The crawler hangs up on purpose when a page is too slow or too big.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.answer()

        def answer(self):
            if self.path in site.routes:
                status, headers, body = site.routes[self.path]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def log_message(self, format, *args):
            pass

    return Handler


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    # Traffic must go straight to 127.0.0.1, never through a proxy from the environment.
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def site(tmp_path) -> Iterator[Site]:
    folder = tmp_path / "site"
    server = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    host, port = server.server_address[:2]
    served = Site(root=f"http://{host!s}:{port}")
    server.RequestHandlerClass = make_handler(folder, served)
    for path, text in PAGES.items():
        served.write(folder, path, text)
    served.write(folder, "robots.txt", ROBOTS)
    served.routes.update(
        {
            "/broken": (500, {"Content-Type": "text/html"}, b"<h1>Oops</h1>"),
            "/api/status": (200, {"Content-Type": "application/json"}, b'{"ok": true}'),
            "/moved": (301, {"Location": "/docs/deep/level-2.html"}, b""),
            "/away": (302, {"Location": f"{OFF_SITE}/landing.html"}, b""),
        }
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield served
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_crawl_reads_the_site_and_respects_its_boundaries(site):
    reading = crawl_website(site.url("/"))

    drafts = {draft.external_id: draft for draft in reading.drafts}
    assert set(drafts) == {
        "/",
        "/docs/getting-started.html",
        "/docs/billing.html",
        "/docs/deep/level-2.html",
        "/nav-only.html",
    }
    # robots.txt is read first and its Disallow is obeyed; assets and off-site links never asked.
    assert site.requests[0] == "/robots.txt"
    assert "/private/salaries.html" not in site.requests
    assert "/files/manual.pdf" not in site.requests
    assert site.requests.count("/docs/billing.html") == 1  # the #invoices fragment is the page
    # A JSON answer is fetched (its link says nothing of its type) but is not a page.
    assert "/api/status" in site.requests
    # Had example.invalid been fetched, it would fail to resolve and show up as a failure.
    assert all(draft.url.startswith(site.root) for draft in reading.drafts)
    assert not [failure for failure in reading.failures if "could not be fetched" in failure.reason]


def test_each_page_becomes_a_draft_with_title_locale_and_structure(site):
    drafts = {draft.external_id: draft for draft in crawl_website(site.url("/")).drafts}

    home = drafts["/"]
    assert home.title == "Acme Help"
    assert home.url == site.url("/")
    assert home.locale == "en-gb"
    assert home.content.startswith("Answers for Acme customers.")
    assert "Menu" not in home.content  # navigation is not knowledge
    started = drafts["/docs/getting-started.html"]
    assert (started.title, started.locale) == ("Primeiros passos", "pt-br")
    assert started.content.startswith("Crie sua conta.\n\n## Convide sua equipe")
    # No <html lang> and no <title>: English, titled by the page's first heading or its path.
    assert drafts["/docs/billing.html"].locale == "en"
    assert drafts["/nav-only.html"].title == "/nav-only.html"


def test_failing_pages_are_reported_with_url_and_reason(site):
    reading = crawl_website(site.url("/"))

    failures = {failure.external_id: failure.reason for failure in reading.failures}
    assert failures == {
        site.url("/broken"): f"{site.url('/broken')} answered HTTP 500.",
        site.url("/away"): (
            f"{site.url('/away')} redirects to {OFF_SITE}/landing.html, which is outside the "
            "site or disallowed."
        ),
    }


def test_redirects_within_the_site_are_followed(site):
    site.routes["/"] = (302, {"Location": "/docs/deep/level-2.html"}, b"")

    reading = crawl_website(site.url("/"))

    assert [draft.url for draft in reading.drafts] == [site.url("/docs/deep/level-2.html")]


def test_a_sitemap_start_reads_exactly_the_pages_it_lists(site):
    index = f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>{site.url("/sitemap-docs.xml")}</loc></sitemap>
  <sitemap><loc>{OFF_SITE}/sitemap.xml</loc></sitemap>
</sitemapindex>"""
    docs = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>{site.url("/docs/billing.html")}</loc></url>
  <url><loc>{site.url("/docs/getting-started.html")}</loc></url>
  <url><loc>{site.url("/private/salaries.html")}</loc></url>
  <url><loc>{OFF_SITE}/docs/other.html</loc></url>
</urlset>"""
    site.routes["/sitemap.xml"] = (200, {"Content-Type": "application/xml"}, index.encode())
    site.routes["/sitemap-docs.xml"] = (200, {"Content-Type": "text/xml"}, docs.encode())

    reading = crawl_website(site.url("/sitemap.xml"))

    assert [draft.external_id for draft in reading.drafts] == [
        "/docs/billing.html",
        "/docs/getting-started.html",
    ]
    assert reading.failures == []
    # Listed pages are read, not crawled from: the link on getting-started is not followed.
    assert "/docs/deep/level-2.html" not in site.requests
    assert "/private/salaries.html" not in site.requests


def test_the_crawl_stops_at_the_page_limit(site):
    reading = crawl_website(site.url("/"), max_pages=2)

    # Breadth-first in link order: the home page, then its first link (in the navigation).
    assert [draft.external_id for draft in reading.drafts] == ["/", "/nav-only.html"]
    assert "/docs/deep/level-2.html" not in site.requests


def test_a_slow_page_times_out_as_a_failure(site):
    site.delays["/docs/billing.html"] = 2.0

    reading = crawl_website(site.url("/"), timeout=0.5)

    assert "/docs/billing.html" not in [draft.external_id for draft in reading.drafts]
    failures = {failure.external_id: failure.reason for failure in reading.failures}
    assert failures[site.url("/docs/billing.html")].endswith("timed out after 0.5 seconds.")
    assert "/docs/getting-started.html" in [draft.external_id for draft in reading.drafts]


def test_a_page_over_the_size_cap_is_not_read(site, monkeypatch):
    monkeypatch.setattr(website, "MAX_RESPONSE_BYTES", 2048)
    huge = b"<html><body>" + b"<p>filler</p>" * 1000 + b"</body></html>"
    site.routes["/huge.html"] = (200, {"Content-Type": "text/html"}, huge)
    site.routes["/"] = (
        200,
        {"Content-Type": "text/html"},
        b'<html><body><p>Home</p><a href="/huge.html">Huge</a></body></html>',
    )

    reading = crawl_website(site.url("/"))

    assert [draft.external_id for draft in reading.drafts] == ["/"]
    assert reading.failures[0].reason == (
        f"{site.url('/huge.html')} is larger than 0.00195312 MB; it was not read."
    )


def test_robots_that_forbid_access_stop_the_crawl(site):
    site.routes["/robots.txt"] = (403, {"Content-Type": "text/plain"}, b"Forbidden")

    with pytest.raises(SourceInputError, match="does not allow reading"):
        crawl_website(site.url("/"))

    assert site.requests == ["/robots.txt"]


def test_a_missing_robots_txt_allows_everything(site):
    site.routes["/robots.txt"] = (404, {"Content-Type": "text/plain"}, b"")

    reading = crawl_website(site.url("/"))

    assert "/private/salaries.html" in [draft.external_id for draft in reading.drafts]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("start_url", "message"),
    [
        ("ftp://127.0.0.1/help", "is not an http:// or https:// address"),
        ("file:///etc/passwd", "is not an http:// or https:// address"),
        ("not a url", "is not an http:// or https:// address"),
    ],
)
def test_start_urls_that_are_not_http_are_refused(start_url, message):
    with pytest.raises(SourceInputError, match=message):
        crawl_website(start_url)


def test_an_unreachable_start_url_is_refused():
    url = f"http://127.0.0.1:{free_port()}/"

    with pytest.raises(SourceInputError, match="could not be fetched"):
        crawl_website(url, timeout=2)


def test_a_start_url_that_fails_or_is_not_a_page_is_refused(site):
    with pytest.raises(SourceInputError, match=r"answered HTTP 404"):
        crawl_website(site.url("/missing.html"))
    with pytest.raises(SourceInputError, match=r"neither an HTML page nor a sitemap"):
        crawl_website(site.url("/api/status"))


def test_pages_that_ask_not_to_be_indexed_or_followed_are_respected(site):
    site.routes["/"] = (
        200,
        {"Content-Type": "text/html"},
        b'<html><head><meta name="robots" content="noindex"></head><body><p>Login</p>'
        b'<a href="/docs/billing.html">Billing</a><a rel="nofollow" href="/nav-only.html">x</a>'
        b"</body></html>",
    )
    site.routes["/docs/billing.html"] = (
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        b'<html><head><meta name="ROBOTS" content="nofollow"><title>Billing</title></head>'
        b'<body><p>Invoices.</p><a href="/docs/getting-started.html">Next</a></body></html>',
    )

    reading = crawl_website(site.url("/"))

    assert [draft.external_id for draft in reading.drafts] == ["/docs/billing.html"]
    assert "/nav-only.html" not in site.requests
    assert "/docs/getting-started.html" not in site.requests
