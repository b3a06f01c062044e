"""What the simulator writes: a chain-like structure, AF3-shaped confidences and AF3's output files."""
