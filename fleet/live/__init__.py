"""What watchers of a device hear: the messages on its channel-layer group, how they are
published (batched on Redis), and the wake-ups of long polls waiting for commands."""
