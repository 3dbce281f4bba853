"""Training LIA: the [train] extra (``pip install 'liaviz[train]'``); ``train/train.py`` is its
command line. The rest of liaviz never imports this package.

- ``options``: every setting, declared once (type, default, range, meaning); ``checks`` the
  words it is declared with;
- ``run_config``: config files and ``--section.key`` overrides, checked against ``options``;
- ``losses``: the loss functions (pixel, pyramid, perceptual, GAN, R1); ``terms``: the
  generator's objective as named terms, one class each;
- ``step``: one optimizer step (the generator's and the critic's halves);
- ``training_loop``: the run, phase by phase; ``run_state``: what a checkpoint holds, saving
  and resuming it; ``run_log``: scalars and sample images.

Importing this package loads nothing heavy: only ``training_loop`` and ``run_state`` need
Accelerate.
"""
