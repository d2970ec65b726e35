#!/bin/bash

# Parameters
#SBATCH --account=mosebench
#SBATCH --comment=mosebench-golden
#SBATCH --constraint=fakegpu
#SBATCH --cpus-per-task=2
#SBATCH --dependency=afterany:{JOBID}
#SBATCH --error={FOLDER}/%j_0_log.err
#SBATCH --job-name=mosebench-golden
#SBATCH --mail-type=END
#SBATCH --mem=2G
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --open-mode=append
#SBATCH --output={FOLDER}/%j_0_log.out
#SBATCH --partition=gpu
#SBATCH --qos=normal
#SBATCH --signal=USR2@90
#SBATCH --time=30
#SBATCH --wckey=submitit

# setup
export OMP_NUM_THREADS=2

# command
export SUBMITIT_EXECUTOR=slurm
srun --unbuffered --output {FOLDER}/%j_%t_log.out --error {FOLDER}/%j_%t_log.err {PYTHON} -u -m submitit.core._submit {FOLDER}
