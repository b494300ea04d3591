"""The flagship deployment: healthcare stroke-risk prediction."""
