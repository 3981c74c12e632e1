"""The `job_status` Delta table: one row per job execution, and the notification files that
feed it."""
