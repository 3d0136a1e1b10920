"""The website chat widget as a channel: widget instances (what a site embeds), visitor
sessions that survive page loads, the live conversations behind them, hand-off to a
person, and the limits that keep a public endpoint cheap.

HTTP lives in `web.widget` and `web.pages.widgets`; this package knows nothing of it.
"""
