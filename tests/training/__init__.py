"""Tests of vae/training/."""
