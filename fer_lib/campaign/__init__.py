"""The study's runs as one campaign: `plan` (every run, ordered by verdicts gained per GPU-minute, what fits
a budget), `jobs` (one run as a submitit job: train in a work folder, publish only complete records),
`executors` (submitit's local and Slurm executors), `preflight` (checks and calibration of a machine) and
`transfer` (datasets to a GPU machine and records back, checked) and `status` (where a campaign stands)."""
