"""metagrad.theory."""
