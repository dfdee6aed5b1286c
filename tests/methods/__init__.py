"""Tests of vae/methods/."""
