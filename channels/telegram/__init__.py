"""Telegram: many bots on aiogram 3, each answering as its own persona, in one process.

Bots live in the database (`store`), a `BotManager` runs the enabled ones (polling, or
webhooks when a public URL is configured) and can start, stop or reload one without
touching the rest. The sales funnel (quiz, requirements, FAQ, payments, news) and the
owner's notifications of phone messages ride on the same bots.
"""
