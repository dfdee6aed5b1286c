"""Accelerator readiness without an accelerator: the project's programs compiled ahead of time
for GPU and TPU targets (`targets`), their memory and collectives read from the compiled program
(`programs`, `collectives`)."""
