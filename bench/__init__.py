"""Benchmarks: load generators and measurements. Never part of the test run."""
