"""The daemon: loop, jobs, command dispatch, training worker, schedule, replay, lock and service (README: "The daemon")."""
