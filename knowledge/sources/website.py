"""A company's website or help center as articles: a polite, bounded, same-site crawl.

The crawler stays on the start URL's host and port, obeys robots.txt, fetches one page at a time,
never reads more than a size cap per response and stops after `max_pages` articles, so pointing it
at a large or hostile site costs a bounded amount of time and traffic.
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import httpx
from bs4 import BeautifulSoup, Tag
from bs4.dammit import UnicodeDammit

from knowledge.sources.drafts import ArticleDraft, ReadFailure, SourceInputError, SourceReading
from knowledge.sources.html import html_title, html_to_markdown

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 5 * 1024 * 1024
MAX_ROBOTS_BYTES = 512 * 1024
MAX_REDIRECTS = 5
MAX_SITEMAP_DEPTH = 3
MAX_SITEMAPS = 50
MAX_QUEUED_URLS = 20_000
MAX_CRAWL_DELAY = 5.0
DEFAULT_LOCALE = "en"
HTML_TYPES = ("text/html", "application/xhtml+xml")
XML_TYPES = ("text/xml", "application/xml")
# fmt: off
ASSET_EXTENSIONS = frozenset((
    "7z", "avi", "bmp", "css", "csv", "dmg", "doc", "docx", "eot", "exe", "gif", "gz", "ico",
    "jpeg", "jpg", "js", "json", "m4a", "mov", "mp3", "mp4", "mpeg", "ogg", "otf", "pdf", "png",
    "ppt", "pptx", "rar", "rss", "svg", "tar", "tgz", "tif", "tiff", "ttf", "txt", "wav", "webm",
    "webp", "woff", "woff2", "xls", "xlsx", "xml", "zip",
))
# fmt: on
LOCALE_PATTERN = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
SITEMAP_ROOT = re.compile(r"<(?:[\w-]+:)?(urlset|sitemapindex)\b", re.IGNORECASE)
SITEMAP_LOC = re.compile(r"<(?:[\w-]+:)?loc>(.*?)</(?:[\w-]+:)?loc>", re.IGNORECASE | re.DOTALL)
CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)


class _FetchError(Exception):
    """Why a URL could not be fetched, worded for the person who started the crawl."""


@dataclass
class _Response:
    url: str  # after redirects
    status: int
    content_type: str
    charset: str | None
    body: bytes | None  # None when the status or content type made reading it pointless


@dataclass
class _Crawl:
    follow_links: bool
    queue: deque[str] = field(default_factory=deque)
    seen_urls: set[str] = field(default_factory=set)
    seen_ids: set[str] = field(default_factory=set)
    reading: SourceReading = field(default_factory=SourceReading)


def crawl_website(
    start_url: str,
    *,
    max_pages: int = 200,
    timeout: float = 10.0,
    user_agent: str = "SupportConsoleBot/1.0",
) -> SourceReading:
    """Read a website into one draft per HTML page, starting from a page or a sitemap.

    From a page, links are followed breadth-first; from a sitemap (or sitemap index), exactly the
    pages it lists are read. Only the start URL's host and port are visited, robots.txt is obeyed,
    and at most `max_pages` drafts are made. A page that fails becomes a failure with its URL;
    a start URL that is not http(s) or cannot be fetched raises SourceInputError.
    """
    if max_pages < 1:
        raise ValueError("max_pages must be at least 1")
    start = _normalise(start_url.strip())
    if start is None:
        raise SourceInputError(f"{start_url[:200]} is not an http:// or https:// address.")
    with _Fetcher(timeout=timeout, user_agent=user_agent) as fetcher:
        return _Crawler(fetcher, start, max_pages).run()


class _Fetcher:
    """GETs one URL at a time with the crawl's limits: timeouts, size cap, same-site redirects."""

    def __init__(self, *, timeout: float, user_agent: str) -> None:
        self.timeout = timeout
        self.user_agent = user_agent
        self.client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": user_agent, "Accept": "text/html,application/xhtml+xml,*/*"},
        )

    def __enter__(self) -> _Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def get(
        self,
        url: str,
        *,
        allowed: Callable[[str], bool],
        wanted: Callable[[str, bytes], bool],
        byte_limit: int | None = None,
    ) -> _Response:
        """Fetch `url`, following redirects only to URLs `allowed` accepts; read the body only
        when `wanted(content_type, first_bytes)` says so."""
        for _ in range(MAX_REDIRECTS + 1):
            if not allowed(url):
                raise _FetchError(f"redirects to {url}, which is outside the site or disallowed")
            response = self._get_once(
                url, wanted=wanted, byte_limit=byte_limit or MAX_RESPONSE_BYTES
            )
            if isinstance(response, str):
                url = response
                continue
            return response
        raise _FetchError(f"redirects more than {MAX_REDIRECTS} times")

    def _get_once(
        self, url: str, *, wanted: Callable[[str, bytes], bool], byte_limit: int
    ) -> _Response | str:
        """The response, or the URL a redirect points to."""
        try:
            with self.client.stream("GET", url) as response:
                if response.is_redirect and "location" in response.headers:
                    target = _normalise(urljoin(url, response.headers["location"]))
                    if target is None:
                        raise _FetchError("redirects to an address that is not http(s)")
                    return target
                content_type, charset = _content_type(response.headers.get("content-type", ""))
                result = _Response(
                    str(response.url), response.status_code, content_type, charset, None
                )
                if response.status_code >= 400:
                    return result
                result.body = self._read_body(response, wanted, byte_limit)
                return result
        except httpx.TimeoutException as error:
            raise _FetchError(f"timed out after {self.timeout:g} seconds") from error
        except httpx.HTTPError as error:
            raise _FetchError(f"could not be fetched ({type(error).__name__}: {error})") from error

    def _read_body(
        self, response: httpx.Response, wanted: Callable[[str, bytes], bool], byte_limit: int
    ) -> bytes | None:
        content_type, _ = _content_type(response.headers.get("content-type", ""))
        # Decide on the declared type when there is one, so a PDF is skipped, not downloaded.
        if content_type and not wanted(content_type, b""):
            return None
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > byte_limit:
            raise _FetchError(f"is larger than {_megabytes(byte_limit)}; it was not read")
        # A slow server could trickle bytes forever within the per-read timeout.
        deadline = time.monotonic() + self.timeout * 3
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            if not chunks and not content_type and not wanted(content_type, chunk):
                return None
            chunks.append(chunk)
            size += len(chunk)
            if size > byte_limit:
                raise _FetchError(f"is larger than {_megabytes(byte_limit)}; it was not read")
            if time.monotonic() > deadline:
                raise _FetchError(f"took longer than {self.timeout * 3:g} seconds to download")
        if not chunks and not content_type and not wanted(content_type, b""):
            return None
        return b"".join(chunks)


class _Robots:
    """A site's robots.txt rules. Until (unless) a robots.txt is read, everything is allowed."""

    def __init__(self, user_agent: str) -> None:
        self.user_agent = user_agent
        self.crawl_delay = 0.0
        self._parser: RobotFileParser | None = None
        self._keep_out = False

    def parse(self, text: str) -> None:
        parser = RobotFileParser()
        parser.parse(text.splitlines())
        self._parser = parser
        delay = parser.crawl_delay(self.user_agent)
        # Honoured, but capped: a huge delay would stall the import for hours.
        self.crawl_delay = min(float(delay), MAX_CRAWL_DELAY) if delay is not None else 0.0

    def disallow_all(self) -> None:
        self._keep_out = True

    def can_fetch(self, url: str) -> bool:
        if self._keep_out:
            return False
        return self._parser is None or self._parser.can_fetch(self.user_agent, url)


class _Crawler:
    def __init__(self, fetcher: _Fetcher, start: str, max_pages: int) -> None:
        self.fetcher = fetcher
        self.start = start
        self.max_pages = max_pages
        self.robots = _Robots(fetcher.user_agent)
        self.origin = _origin(start)
        self.last_fetch = 0.0

    def run(self) -> SourceReading:
        self._read_robots()
        if not self._allowed(self.start):
            raise SourceInputError(
                f"The robots.txt of {_site(self.origin)} does not allow reading {self.start}."
            )
        first = self._fetch_start()
        # A start URL that redirects to https (or another port) of its host moves the site there.
        if _origin(first.url) != self.origin:
            self.origin = _origin(first.url)
            self.robots = _Robots(self.fetcher.user_agent)
            self._read_robots()
        if _is_sitemap(first):
            crawl = _Crawl(follow_links=False)
            self._enqueue(crawl, self._sitemap_pages(first))
            if not crawl.queue:
                raise SourceInputError(f"The sitemap {self.start} lists no pages of this site.")
        elif _is_html(first.content_type, first.body or b""):
            crawl = _Crawl(follow_links=True)
            crawl.seen_urls.add(self.start)
            self._read_page(crawl, first)
        else:
            kind = first.content_type or "unknown type"
            raise SourceInputError(f"{self.start} is neither an HTML page nor a sitemap ({kind}).")
        self._crawl(crawl)
        return crawl.reading

    # -- start ------------------------------------------------------------------------------------

    def _read_robots(self) -> None:
        robots_url = urlunsplit((self.origin[0], _netloc(self.origin), "/robots.txt", "", ""))
        try:
            response = self.fetcher.get(
                robots_url,
                allowed=self._same_site,
                wanted=lambda _type, _start: True,
                byte_limit=MAX_ROBOTS_BYTES,
            )
        except _FetchError as error:
            logger.info("robots.txt of %s unreadable, crawling allowed: %s", robots_url, error)
            return
        # As urllib.robotparser does: 401/403 mean "keep out", other errors mean "no rules".
        if response.status in (401, 403):
            self.robots.disallow_all()
        elif response.status < 400 and response.body is not None:
            self.robots.parse(response.body.decode("utf-8", errors="replace"))

    def _fetch_start(self) -> _Response:
        def same_host(url: str) -> bool:
            return _origin(url)[1] == self.origin[1] and self.robots.can_fetch(url)

        try:
            self._wait_for_turn()
            response = self.fetcher.get(self.start, allowed=same_host, wanted=_html_or_sitemap)
        except _FetchError as error:
            raise SourceInputError(f"{self.start} {error}.") from error
        if response.status >= 400:
            raise SourceInputError(f"{self.start} answered HTTP {response.status}.")
        return response

    def _sitemap_pages(self, sitemap: _Response) -> list[str]:
        pages: list[str] = []
        pending = deque([(sitemap, 0)])
        fetched = 1
        while pending:
            response, depth = pending.popleft()
            kind, locations = _sitemap_locations(_maybe_gunzip(response.body or b""))
            same_site = [url for url in locations if self._same_site(url)]
            if kind == "urlset":
                pages.extend(same_site)
                continue
            for child_url in same_site:
                if depth + 1 > MAX_SITEMAP_DEPTH or fetched >= MAX_SITEMAPS:
                    break
                child = self._fetch_sitemap(child_url)
                fetched += 1
                if child is not None:
                    pending.append((child, depth + 1))
        return pages

    def _fetch_sitemap(self, url: str) -> _Response | None:
        if not self._allowed(url):
            return None
        try:
            response = self._get(url, wanted=lambda _type, _start: True)
        except _FetchError as error:
            logger.info("sitemap %s skipped: %s", url, error)
            return None
        return response if response.status < 400 and response.body is not None else None

    # -- crawl -----------------------------------------------------------------------------------

    def _crawl(self, crawl: _Crawl) -> None:
        # Errors and non-HTML responses cost fetches without making drafts; bound them too.
        fetch_budget = self.max_pages * 5 + 50
        while crawl.queue and len(crawl.reading.drafts) < self.max_pages and fetch_budget > 0:
            url = crawl.queue.popleft()
            if not self._allowed(url):
                continue
            fetch_budget -= 1
            try:
                response = self._get(url, wanted=_html_only)
            except _FetchError as error:
                crawl.reading.failures.append(ReadFailure(url, f"{url} {error}."))
                continue
            if response.status >= 400:
                reason = f"{url} answered HTTP {response.status}."
                crawl.reading.failures.append(ReadFailure(url, reason))
                continue
            if response.body is None:
                continue  # not HTML: images, PDFs, feeds are not pages
            self._read_page(crawl, response)

    def _read_page(self, crawl: _Crawl, response: _Response) -> None:
        url = _normalise(response.url) or response.url
        crawl.seen_urls.add(url)
        markup = _decode_page(response)
        soup = BeautifulSoup(markup, "html.parser")
        robots_meta = _meta_robots(soup)
        if crawl.follow_links and "nofollow" not in robots_meta:
            self._enqueue(crawl, _links(soup, url))
        if "noindex" in robots_meta:
            return
        external_id = _external_id(url)
        if external_id in crawl.seen_ids:
            return
        title = html_title(markup) or urlsplit(url).path or "/"
        content = html_to_markdown(markup, drop_title=title)
        if not content:
            return
        crawl.seen_ids.add(external_id)
        crawl.reading.drafts.append(
            ArticleDraft(
                external_id=external_id,
                title=title,
                content=content,
                locale=_page_locale(soup),
                url=url,
            )
        )

    def _enqueue(self, crawl: _Crawl, urls: Iterable[str]) -> None:
        for raw_url in urls:
            url = _normalise(raw_url)
            if url is None or url in crawl.seen_urls or not self._same_site(url):
                continue
            if _looks_like_asset(url) or len(crawl.queue) >= MAX_QUEUED_URLS:
                continue
            crawl.seen_urls.add(url)
            crawl.queue.append(url)

    # -- rules -----------------------------------------------------------------------------------

    def _get(self, url: str, *, wanted: Callable[[str, bytes], bool]) -> _Response:
        self._wait_for_turn()
        return self.fetcher.get(url, allowed=self._allowed, wanted=wanted)

    def _wait_for_turn(self) -> None:
        if self.robots.crawl_delay:
            pause = self.last_fetch + self.robots.crawl_delay - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        self.last_fetch = time.monotonic()

    def _same_site(self, url: str) -> bool:
        return _origin(url) == self.origin

    def _allowed(self, url: str) -> bool:
        return self._same_site(url) and self.robots.can_fetch(url)


# -- URLs ----------------------------------------------------------------------------------------


def _normalise(url: str) -> str | None:
    """The URL without fragment, with lowercase scheme and host, no default port and a path;
    None for anything that is not http(s) with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:  # IPv6 literals keep their brackets in a netloc
        host = f"[{host}]"
    netloc = host if port is None or port == _default_port(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _default_port(scheme)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _netloc(origin: tuple[str, str, int]) -> str:
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return host if port == _default_port(scheme) else f"{host}:{port}"


def _site(origin: tuple[str, str, int]) -> str:
    return f"{origin[0]}://{_netloc(origin)}"


def _external_id(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _looks_like_asset(url: str) -> bool:
    last_segment = urlsplit(url).path.rsplit("/", 1)[-1]
    extension = last_segment.rsplit(".", 1)[-1].lower() if "." in last_segment else ""
    return extension in ASSET_EXTENSIONS


# -- content -------------------------------------------------------------------------------------


def _content_type(header: str) -> tuple[str, str | None]:
    kind, _, parameters = header.partition(";")
    match = re.search(r"charset=[\"']?([\w.:-]+)", parameters, re.IGNORECASE)
    return kind.strip().lower(), match.group(1) if match else None


def _decode_page(response: _Response) -> str:
    """The page as text: the charset the server declares, else what the markup says or looks
    like."""
    declared = [response.charset] if response.charset else []
    return (
        UnicodeDammit(response.body or b"", known_definite_encodings=declared).unicode_markup or ""
    )


def _is_html(content_type: str, start: bytes) -> bool:
    if content_type:
        return content_type in HTML_TYPES
    head = start[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _html_only(content_type: str, start: bytes) -> bool:
    return _is_html(content_type, start)


def _html_or_sitemap(content_type: str, start: bytes) -> bool:
    return (
        _is_html(content_type, start)
        or content_type in XML_TYPES
        or content_type.endswith("+xml")
        or content_type in ("application/gzip", "application/x-gzip")
        or start[:512].lstrip().startswith(b"<?xml")
    )


def _is_sitemap(response: _Response) -> bool:
    if response.body is None or _is_html(response.content_type, response.body):
        return False
    kind, _ = _sitemap_locations(_maybe_gunzip(response.body))
    return kind in ("urlset", "sitemapindex")


def _maybe_gunzip(body: bytes) -> bytes:
    """Sitemaps are often served as .xml.gz files; inflate them within the size cap."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return inflater.decompress(body, MAX_RESPONSE_BYTES)
    except zlib.error:
        return b""


def _sitemap_locations(body: bytes) -> tuple[str, list[str]]:
    """("urlset" or "sitemapindex" or "", the <loc> URLs). Read with patterns, not an XML
    parser, so entity tricks in a hostile sitemap expand nothing."""
    text = body.decode("utf-8", errors="replace")
    root = SITEMAP_ROOT.search(text)
    if root is None:
        return "", []
    locations = (unescape(CDATA.sub(r"\1", raw)).strip() for raw in SITEMAP_LOC.findall(text))
    return root.group(1).lower(), [location for location in locations if location]


def _links(soup: BeautifulSoup, page_url: str) -> list[str]:
    base_tag = soup.find("base", href=True)
    base = urljoin(page_url, str(base_tag["href"])) if isinstance(base_tag, Tag) else page_url
    links: list[str] = []
    for anchor in soup.find_all("a", href=True):
        if not isinstance(anchor, Tag):
            continue
        if "nofollow" in (anchor.get("rel") or []):
            continue
        href = str(anchor["href"]).strip()
        if href and not href.startswith(("#", "mailto:", "tel:", "javascript:")):
            links.append(urljoin(base, href))
    return links


def _meta_robots(soup: BeautifulSoup) -> str:
    tag = soup.find("meta", attrs={"name": re.compile(r"^robots$", re.IGNORECASE)})
    return str(tag.get("content") or "").lower() if isinstance(tag, Tag) else ""


def _page_locale(soup: BeautifulSoup) -> str:
    html_tag = soup.find("html")
    lang = str(html_tag.get("lang") or "") if isinstance(html_tag, Tag) else ""
    locale = lang.strip().lower().replace("_", "-")
    return locale if LOCALE_PATTERN.match(locale) else DEFAULT_LOCALE


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"
