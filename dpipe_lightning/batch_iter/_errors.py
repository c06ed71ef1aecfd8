"""Errors raised by batch iterators."""


class PipelineError(RuntimeError):
    """A stage of a loading pipeline (source, transformer, combiner) failed.

    The message names the stage and the position of the item or batch; the original exception is the
    ``__cause__``.
    """
