"""Tests of vae/readiness."""
