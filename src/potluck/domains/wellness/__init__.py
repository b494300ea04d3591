"""The wellness deployment: activity, sleep, exercise, social and device features per user."""
