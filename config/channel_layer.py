"""The Redis channel layer's configuration, shared by the settings and the tests that use Redis."""

from typing import Any

# channels_redis waits up to 5 s for a message on an idle channel (a blocking pop on the server).
# redis-py 8 gives every read a 5 s socket timeout by default, so an idle socket could die with
# "Timeout reading from redis" the moment nothing happened for 5 s. Reads may take longer than
# that wait; a dead server is still noticed.
CHANNEL_LAYER_SOCKET_TIMEOUT_SECONDS = 30


def redis_channel_layer_config(url: str, *, prefix: str) -> dict[str, Any]:
    """A `CHANNEL_LAYERS` entry on the Redis at `url`, its keys under `prefix`."""
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": url, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT_SECONDS}],
            "prefix": prefix,
        },
    }
