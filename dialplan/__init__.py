"""Dialplan templates (extensions.conf), rendered from the one settings source."""
