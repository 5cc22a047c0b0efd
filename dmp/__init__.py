"""The composition of the whole system: the `dmp` command and the embedded demo.

It stands above the three packages so that none of them imports another's insides:
`server/` never imports `kiosk/` nor `dmp/`, and `kiosk/` reaches the server only over
HTTP (its one shared module is the request signing, server/signin/request_signing.py).
"""
