"""Maintenance scripts for the content packs."""
