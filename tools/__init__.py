"""Developer tools: offline synth, config reference, local server helpers."""
