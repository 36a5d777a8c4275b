"""Puts this directory on sys.path so tests share slurm_fakes (pytest's prepend import mode does it
under plain pytest; ansible-test units imports test files through the collection loader)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
