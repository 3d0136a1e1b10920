"""The secretary's mind, channel-agnostic.

LLM access, personas, conversation state, tools, the database.
"""
