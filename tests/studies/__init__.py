"""Tests of vae/studies/."""
