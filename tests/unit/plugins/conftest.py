"""Puts this directory on sys.path (pytest's prepend import mode) so tests share slurm_fakes."""
