"""What is simulated: the configs, the data distribution, the two networks and the theory."""
