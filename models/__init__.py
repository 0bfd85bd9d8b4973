"""models/: small int8 networks for the accelerator, with their training scripts.

- ``models.digits``: the 8x8 digits CNN (scikit-learn's bundled ``load_digits``): data split, input
  quantisation, paths of the committed ``digits_int8.tflite`` and its metrics file, evaluation helpers.
- ``models.train_digits``: ``python -m models.train_digits`` trains it in plain NumPy (seeded,
  deterministic), quantises it to int8 and writes the .tflite and the metrics JSON.
"""
