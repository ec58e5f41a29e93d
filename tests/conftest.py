"""Test configuration: load the hypothesis profile chosen by ``CROSSCHECK_PROFILE`` (default ``ci``)."""

from crosscheck.profiles import load_profile

load_profile()
