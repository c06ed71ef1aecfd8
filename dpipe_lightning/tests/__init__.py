"""Test resources, kept for deep_pipe's import paths (``dpipe.tests.mnist.resources``)."""
