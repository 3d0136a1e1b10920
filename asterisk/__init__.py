"""Asterisk configuration templates, their rendering, and running Asterisk (system or chroot)."""
