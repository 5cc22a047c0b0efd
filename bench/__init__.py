"""Benchmarks of the records server: population generator, HTTP load bench, bench app.

Never imported by the server: the `/bench/baseline` route exists only in `bench.app`.
"""
