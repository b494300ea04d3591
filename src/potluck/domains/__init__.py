"""Deployments built on potluck; each domain folder is one feature repository."""
