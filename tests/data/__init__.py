"""Tests of vae/data/."""
