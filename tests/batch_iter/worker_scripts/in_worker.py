"""`ImportedInWorker`: a transformer whose unpickling, in a worker process, imports a module."""

import importlib


class ImportedInWorker:
    """Passes items through here; a worker process that loads it imports ``module`` instead (e.g. one that dies).

    The parent never imports ``module``: pickling gives ``importlib.import_module(module)`` to call when loading.
    """

    def __init__(self, module):
        self.module = module

    def __call__(self, item):
        return item

    def __reduce__(self):
        return importlib.import_module, (self.module,)
