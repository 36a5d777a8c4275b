#!/usr/bin/env bash
#SBATCH --job-name=hpc-test
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=8
#SBATCH --time=00:10:00
#SBATCH --output=output_%j.log

module load openmpi
mpirun hostname
