"""metagrad.sweep."""
