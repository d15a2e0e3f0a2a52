"""Test-suite settings: one intra-op thread (tests are many small ops; oversubscribing 2 cores with
DataLoader workers and subprocesses is slower and makes timings erratic), quiet progress bars."""
import os

import torch

os.environ.setdefault("TQDM_DISABLE", "1")
torch.set_num_threads(1)
