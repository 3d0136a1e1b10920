"""aiohttp site: admin console, JSON and OpenAI-compatible API, widget.js, metrics."""
