"""The app `make serve` runs in each worker: MLflow's scoring-server app, the one
`mlflow models serve` runs, which loads the model when imported.

The loaded model, MLflow and pandas are then moved out of the garbage collector's reach
(`gc.freeze`): they live as long as the worker, and each full collection walked them all again,
so a few requests in a thousand took ten times as long as the others.
"""

import gc

from mlflow.pyfunc.scoring_server.app import app

gc.collect()
gc.freeze()

__all__ = ["app"]
