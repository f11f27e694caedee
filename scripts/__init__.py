"""Packaging, provisioning and tear-down of the chat stack, for every target."""
