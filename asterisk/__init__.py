"""Asterisk configuration templates and the code that renders them and runs Asterisk (system or chroot)."""
