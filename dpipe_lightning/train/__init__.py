"""Training: policies (:mod:`dpipe_lightning.train.policy`) and validation helpers (:mod:`.validator`).

The entry point, :func:`dpipe_lightning.torch.train_model`, lives with ``TorchModel`` as in deep_pipe.
"""
