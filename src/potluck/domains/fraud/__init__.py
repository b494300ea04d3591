"""The fraud deployment: card fraud scoring and session personalization on event streams."""
