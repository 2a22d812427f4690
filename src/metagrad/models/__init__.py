"""metagrad.models."""
