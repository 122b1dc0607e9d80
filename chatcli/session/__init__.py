"""Session models, errors and storage."""
