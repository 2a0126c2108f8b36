"""What the tests (and the benchmarks) share: real parts on loopback (a sidecar, a
control, a console, SDK agents, a local provider) and the raw requests that drive them."""
