"""MNIST resources (deep_pipe's ``dpipe.tests.mnist``)."""
