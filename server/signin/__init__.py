"""Sign-in: how the server learns who is calling (cards, kiosks, one-time codes, passwords).

This package's `__init__` imports nothing on purpose: the kiosk imports
`server.signin.request_signing`, and must not pull the server's database code with it.
"""
