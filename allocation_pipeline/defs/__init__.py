"""The Dagster shell: assets, checks, partitions, jobs, schedules and resources that call the core."""
