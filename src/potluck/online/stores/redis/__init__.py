"""Feast's Redis online store: scripted bulk writer and one-round-trip reader."""

from potluck.online.stores.redis.reader import RedisReader
from potluck.online.stores.redis.writer import RedisWriter

__all__ = ["RedisReader", "RedisWriter"]
