"""Deposited contents: recognised by their bytes, checked at the door, and read.

`understand.understand(bytes, declared media type, limits)` is the one entry point; the
modules below it are one per format (docs/documents.md, "Formats"). Nothing here opens
a file, a socket or a process, nor touches the database.
"""
