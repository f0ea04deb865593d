"""The assistant's runtime: channels, the channel-neutral Assistant, storage."""
