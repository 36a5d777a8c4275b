#!/usr/bin/env bash
#SBATCH --job-name=mpi-smoke-test
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --time=00:05:00
#SBATCH --output=/shared/jobs/mpi-smoke-test-%j.out
#SBATCH --error=/shared/jobs/mpi-smoke-test-%j.out

echo "Starting MPI smoke test at $(date)"
echo "Running on nodes: $SLURM_JOB_NODELIST"
srun --mpi=pmix /shared/jobs/mpi_smoke_test
echo "MPI smoke test completed at $(date)"
