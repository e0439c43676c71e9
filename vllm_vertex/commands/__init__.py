"""The ``vllm-vertex`` subcommands (click). Each imports heavy clients inside the command only."""
