"""An audit export as a download, for the API and the web alike: streamed as the
service produces it, never cached."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


async def stream_export(request: web.Request, chunks: AsyncIterator[bytes], fmt: str,
                        stem: str) -> web.StreamResponse:
    """`chunks` written as they come, as the file `<stem>.<fmt>`."""
    response = web.StreamResponse(headers={
        "Content-Type": CONTENT_TYPES[fmt],
        "Content-Disposition": f'attachment; filename="{stem}.{fmt}"',
        "Cache-Control": "no-store"})
    await response.prepare(request)
    async for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response
