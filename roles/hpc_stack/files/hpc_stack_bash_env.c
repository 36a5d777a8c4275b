/*
 * SPANK plugin of the hpc.parallelcluster.hpc_stack role.
 *
 * Sets BASH_ENV in the environment of every task of a job, the batch script included, to the
 * file named by its argument in plugstack.conf. A batch script started as #!/bin/bash is a
 * non-login, non-interactive shell: the only startup file it reads is $BASH_ENV, and it has the
 * Environment Modules `module` function only when the submitting shell exported it (a login
 * shell does; runuser -u, sudo -u, cron and Ansible do not). A TaskProlog could set BASH_ENV too,
 * but only through slurm.conf; a plugstack.conf.d file needs no change to slurm.conf and no
 * daemon restart, since slurmstepd reads the SPANK configuration at each step.
 *
 * A BASH_ENV the job brings is kept. Nothing is set when the file is not readable on the node,
 * so a node without it runs jobs as before.
 */
#include <unistd.h>
#include <slurm/spank.h>

SPANK_PLUGIN(hpc_stack_bash_env, 1);

int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	if (ac < 1 || av[0] == NULL || av[0][0] == '\0') {
		slurm_error("hpc_stack_bash_env: no file given in plugstack.conf");
		return ESPANK_SUCCESS;
	}
	if (access(av[0], R_OK) != 0)
		return ESPANK_SUCCESS;
	/* overwrite=0: ESPANK_ENV_EXISTS when the job has its own BASH_ENV, which stays. */
	spank_setenv(sp, "BASH_ENV", av[0], 0);
	return ESPANK_SUCCESS;
}
