"""The training machinery under the tasks: the command line, checkpoints, surviving faults, many processes, timing.

- `lightning_cli`: `seqkit fit|validate|test|predict` (LightningCLI), built by one function, `build`;
- `checkpoints`: finding (`resolve`), loading as plain data (`load`), restoring a task (`restore`);
- `faults`: atomic writes, resumable runs, stopping on divergence;
- `distributed`: samplers and gathers for many processes;
- `bench`: timing and memory of modules (`seqkit modules`, `benchmarks/`).
"""
