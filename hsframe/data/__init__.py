"""Data: files -> cube -> samples. Nothing here imports torch at module level except `patches`."""
