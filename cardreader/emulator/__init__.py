"""Stand-ins for real cards and the real health PKI: for tests, benches and the demo only.

`virtual` is the card emulator (the same object serves in-process tests, the embedded
demo and, through `vpcd`, the real pcscd); `cardfile` is its secure element on disk;
`pki` is the TEST PKI that issues its certificates (and the kiosks' and the server's);
`demo` the named demo set; `cli` the `dmp pki ...` and `dmp card ...` commands;
`testing` a scripted connection for host-side tests.

The card access library (the parent package) never imports this package; a kiosk
talking to real cards needs none of it.
"""
