"""What every CSV export of the console shares: cells made inert for spreadsheets, rows
written a few hundred at a time, and a response streamed as it is read (under WSGI and
ASGI alike)."""

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django import forms
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBadRequest, StreamingHttpResponse

# Rows read per database round trip while exporting, and written per chunk sent.
EXPORT_CHUNK = 2000
ROWS_PER_WRITE = 500
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """Text a charger or a person wrote, made inert for spreadsheets; numbers pass as they
    are (a negative cost is a number, not a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_cell(value: object) -> str:
    """A JSON value as one compact, stable cell; nothing at all for None."""
    return "" if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The header at once, then the rows (each cell made inert) a few hundred at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(header)
    yield flush()
    for count, row in enumerate(rows, 1):
        writer.writerow([csv_safe(value) for value in row])
        if count % ROWS_PER_WRITE == 0:
            yield flush()
    yield flush()


def streamed_csv(
    request: HttpRequest, chunks: Iterator[str], filename: str
) -> StreamingHttpResponse:
    """The chunks as a CSV attachment, handed over as they are made."""
    response = StreamingHttpResponse(
        _asynchronous(chunks) if isinstance(request, ASGIRequest) else chunks,
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def refused_export(form: forms.Form) -> HttpResponseBadRequest:
    """Why filters that the page would refuse export nothing, in plain text."""
    problems = "; ".join(
        f"{field.replace('__all__', 'filters')}: {' '.join(errors)}"
        for field, errors in form.errors.items()
    )
    return HttpResponseBadRequest(
        f"Nothing exported: {problems}\n", content_type="text/plain; charset=utf-8"
    )


async def _asynchronous(chunks: Iterator[str]) -> AsyncIterator[str]:
    """Under ASGI, Django reads a synchronous iterator to its end before sending anything;
    this hands the chunks over as they are made, on the request's thread (the database
    cursor's)."""
    pull = sync_to_async(next, thread_sensitive=True)
    done = object()
    while (chunk := await pull(chunks, done)) is not done:
        yield chunk
