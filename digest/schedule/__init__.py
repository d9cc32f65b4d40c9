"""Schedule: when fetches and sends happen (`plan`), the one-daemon-per-store lock (`lock`), and
the `digest run` process that ties them to the pipeline (`daemon`)."""
