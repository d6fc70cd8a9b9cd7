"""Media: everything aiortc, on the one media asyncio thread (extensions.media_loop)."""
