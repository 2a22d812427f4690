"""metagrad.sim."""
