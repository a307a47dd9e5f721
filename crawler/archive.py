"""The archive: the raw response of every stored article, in WARC files (warcio).

:class:`WarcArchive` is a Scrapy extension, on with the ``NEWSWATCH_ARCHIVE``
setting (a directory). Each run of a source that stores something writes one
gzip-compressed WARC file, ``<directory>/<source>/<run start>.warc.gz``: per stored
article a ``response`` record (status, headers and the body as Scrapy received it,
already decompressed) and a ``metadata`` record concurrent to it (JSON: the article
id, the requested URL, when it was fetched, the feed's hint). One file per run: a
run killed mid-write can only truncate its own file, and the reader keeps what came
before the cut.

:func:`archived_pages` reads them back, newest fetch of each article last, as
responses the spiders' own ``parse_article`` turns into pages again (``reparse``).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, BinaryIO

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.items import Article, EntryHint

logger = logging.getLogger(__name__)

# Scrapy has already decoded the body: these would describe bytes no longer there.
_DROPPED_HEADERS = {b"content-length", b"content-encoding", b"transfer-encoding"}


class WarcArchive:
    """Writes the response of each stored article to the run's WARC file."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.started = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
        self._file: BinaryIO | None = None
        self._writer: WARCWriter | None = None
        self.path: Path | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcArchive:
        directory = crawler.settings.get("NEWSWATCH_ARCHIVE")
        if not directory:
            raise NotConfigured  # no message: Scrapy would log it as a warning
        archive = cls(directory)
        crawler.signals.connect(archive.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(archive.spider_closed, signal=signals.spider_closed)
        return archive

    def item_scraped(self, item: Any, response: Response | None, spider: Any) -> None:
        if response is None or not isinstance(item, Article) or response.status != 200:
            return  # items without a response of their own: reparse, the outbox
        source = getattr(getattr(spider, "source", None), "name", None) or spider.name
        try:
            self.write(source, response, item)
        except OSError as exc:  # a full disk loses the archive copy, never the article
            logger.error("cannot write the archive %s: %s", self.path or self.directory, exc)

    def write(self, source: str, response: Response, article: Article) -> None:
        """Append the response of ``article`` and its metadata to this run's file."""
        writer = self._open(source)
        status = f"{response.status} {_phrase(response.status)}".strip()
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, values in response.headers.items()
            if name.lower() not in _DROPPED_HEADERS
            for value in values
        ]
        headers.append(("Content-Length", str(len(response.body))))
        record = writer.create_warc_record(
            response.url,
            "response",
            payload=io.BytesIO(response.body),
            http_headers=StatusAndHeaders(status, headers, protocol="HTTP/1.1"),
            warc_headers_dict={"WARC-Date": article.fetched_at},
        )
        writer.write_record(record)
        request = response.request
        hint = request.cb_kwargs.get("hint") if request is not None else None
        metadata = {
            "article_id": article.id,
            "source": source,
            "requested_url": request.url if request is not None else response.url,
            "fetched_at": article.fetched_at,
            "hint": dataclasses.asdict(hint) if isinstance(hint, EntryHint) else None,
        }
        writer.write_record(
            writer.create_warc_record(
                response.url,
                "metadata",
                payload=io.BytesIO(json.dumps(metadata, ensure_ascii=False).encode()),
                warc_content_type="application/json",
                warc_headers_dict={
                    "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID"),
                    "WARC-Date": article.fetched_at,
                },
            )
        )
        assert self._file is not None
        self._file.flush()

    def _open(self, source: str) -> WARCWriter:
        if self._writer is None:
            folder = self.directory / source
            folder.mkdir(parents=True, exist_ok=True)
            for suffix in ("", *(f"-{n}" for n in range(2, 100))):
                path = folder / f"{self.started}{suffix}.warc.gz"
                try:
                    self._file = open(path, "xb")  # noqa: SIM115 (closed with the spider)
                except FileExistsError:
                    continue
                self.path = path
                break
            else:
                raise OSError(f"no free archive file name in {folder}")
            self._writer = WARCWriter(self._file, gzip=True)
        return self._writer

    def spider_closed(self, spider: Any) -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


@dataclass
class ArchivedPage:
    """One archived article response, as it was received."""

    article_id: str
    source: str
    requested_url: str
    fetched_at: str
    hint: EntryHint | None
    response: Response


def archive_files(directory: str | Path, source: str) -> list[Path]:
    """The archive files of ``source``, oldest first."""
    return sorted((Path(directory) / source).glob("*.warc.gz"))


def archived_pages(directory: str | Path, source: str) -> Iterator[ArchivedPage]:
    """Every archived response of ``source``, oldest first (a later one is a newer fetch).

    A file cut short (its run was killed) yields what it holds before the cut.
    """
    for path in archive_files(directory, source):
        with open(path, "rb") as stream:
            responses: dict[str, tuple[str, int, list, bytes]] = {}
            try:
                for record in ArchiveIterator(stream):
                    if record.rec_type == "response":
                        ident = record.rec_headers.get_header("WARC-Record-ID")
                        http = record.http_headers
                        status = int(http.get_statuscode() or 0)
                        body = record.content_stream().read()
                        url = record.rec_headers.get_header("WARC-Target-URI")
                        responses[ident] = (url, status, http.headers, body)
                    elif record.rec_type == "metadata":
                        concurrent = record.rec_headers.get_header("WARC-Concurrent-To")
                        if concurrent not in responses:
                            continue
                        page = _page(responses.pop(concurrent), record.content_stream().read())
                        if page is not None:
                            yield page
            except (ArchiveLoadFailed, EOFError, zlib.error) as exc:
                logger.warning("archive %s is cut short: %s", path, exc)


def _page(response: tuple[str, int, list, bytes], metadata: bytes) -> ArchivedPage | None:
    try:
        meta = json.loads(metadata)
    except ValueError:  # a record cut short
        return None
    url, status, header_list, body = response
    headers = Headers()
    for name, value in header_list:
        headers.appendlist(name, value)
    request = Request(meta["requested_url"])
    cls = responsetypes.from_args(headers=headers, url=url, body=body)
    hint = EntryHint(**meta["hint"]) if meta.get("hint") else None
    return ArchivedPage(
        article_id=meta["article_id"],
        source=meta["source"],
        requested_url=meta["requested_url"],
        fetched_at=meta["fetched_at"],
        hint=hint,
        response=cls(url=url, status=status, headers=headers, body=body, request=request),
    )
