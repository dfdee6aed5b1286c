"""Tests of vae/evaluation/."""
