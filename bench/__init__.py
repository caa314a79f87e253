"""Benchmarks (`make bench`): each ``bench/bench_*.py`` exposes ``main(quick: bool) -> list[Result]``."""
